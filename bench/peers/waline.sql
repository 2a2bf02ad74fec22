-- The PostgreSQL tables that Waline 1.39.3 (`@waline/vercel`) reads and writes, for a database of its own.
--
-- The npm package does not ship its schema, so this is written from the package's storage code
-- (src/service/storage/postgresql.js and mysql.js, src/controller/*.js): table prefix `wl_`, one sequence per
-- table named `<table>_seq` (the name Waline's import restarts), and column names unquoted, so PostgreSQL folds
-- `insertedAt` to `insertedat` exactly as postgresql.js expects. Types follow what the code stores: times as
-- `timestamp(0)` strings formatted 'YYYY-MM-DD HH:mm:ss', `sticky` as a numeric flag it turns back into a boolean.

CREATE SEQUENCE wl_comment_seq;

CREATE TABLE wl_comment (
    id         integer      NOT NULL DEFAULT nextval('wl_comment_seq') CHECK (id > 0) PRIMARY KEY,
    user_id    integer      DEFAULT NULL,
    comment    text,
    insertedAt timestamp(0) without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ip         varchar(100) DEFAULT '',
    link       varchar(255) DEFAULT NULL,
    mail       varchar(255) DEFAULT NULL,
    nick       varchar(255) DEFAULT NULL,
    pid        integer      DEFAULT NULL,
    rid        integer      DEFAULT NULL,
    sticky     numeric      DEFAULT NULL,
    status     varchar(50)  NOT NULL DEFAULT '',
    "like"     integer      DEFAULT NULL,
    ua         text,
    url        varchar(255) DEFAULT NULL,
    createdAt  timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP,
    updatedAt  timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP
);

-- Not in 1.39.3's own schema, which has no secondary index: the one on the page's address that upstream
-- recommends for existing PostgreSQL databases since, so that a thread's read does not scan every comment.
CREATE INDEX wl_comment_url_rid ON wl_comment (url, rid);

CREATE SEQUENCE wl_counter_seq;

CREATE TABLE wl_counter (
    id        integer      NOT NULL DEFAULT nextval('wl_counter_seq') CHECK (id > 0) PRIMARY KEY,
    time      integer      DEFAULT NULL,
    reaction0 integer      DEFAULT NULL,
    reaction1 integer      DEFAULT NULL,
    reaction2 integer      DEFAULT NULL,
    reaction3 integer      DEFAULT NULL,
    reaction4 integer      DEFAULT NULL,
    reaction5 integer      DEFAULT NULL,
    reaction6 integer      DEFAULT NULL,
    reaction7 integer      DEFAULT NULL,
    reaction8 integer      DEFAULT NULL,
    url       varchar(255) NOT NULL DEFAULT '',
    createdAt timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP,
    updatedAt timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP
);

CREATE SEQUENCE wl_users_seq;

CREATE TABLE wl_users (
    id           integer      NOT NULL DEFAULT nextval('wl_users_seq') CHECK (id > 0) PRIMARY KEY,
    display_name varchar(255) NOT NULL DEFAULT '',
    email        varchar(255) NOT NULL DEFAULT '',
    password     varchar(255) NOT NULL DEFAULT '',
    type         varchar(50)  NOT NULL DEFAULT '',
    label        varchar(255) DEFAULT NULL,
    url          varchar(255) DEFAULT NULL,
    avatar       varchar(255) DEFAULT NULL,
    github       varchar(255) DEFAULT NULL,
    twitter      varchar(255) DEFAULT NULL,
    facebook     varchar(255) DEFAULT NULL,
    google       varchar(255) DEFAULT NULL,
    weibo        varchar(255) DEFAULT NULL,
    qq           varchar(255) DEFAULT NULL,
    oidc         varchar(255) DEFAULT NULL,
    huawei       varchar(255) DEFAULT NULL,
    "2fa"        varchar(32)  DEFAULT NULL,
    createdAt    timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP,
    updatedAt    timestamp(0) without time zone DEFAULT CURRENT_TIMESTAMP
);
