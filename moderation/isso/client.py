"""Isso's own published client (embed.min.js and its stylesheet), served from the installed `isso` package.

A site may keep loading the script from wherever it did; serving it here lets a site move with one address. The
files are found through the package's metadata, so the `isso` package is never imported (it is a whole server).
"""
from importlib import metadata

from flask import abort, jsonify, make_response, send_file

# Browsers and CDNs may keep the client an hour, as the widget's script.
MAX_AGE = 3600
FILES = {
    "js/embed.min.js": "text/javascript",
    "js/embed.dev.js": "text/javascript",
    "js/embed.dev.js.map": "application/json",
    "js/count.min.js": "text/javascript",
    "js/count.dev.js": "text/javascript",
    "js/count.dev.js.map": "application/json",
    "css/isso.css": "text/css",
}


def installed_file(name):
    """The path of one of Isso's client files in the installed package, or None."""
    try:
        path = metadata.distribution("isso").locate_file(f"isso/{name}")
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def served(name):
    path = installed_file(name) if name in FILES else None
    if path is None:
        abort(make_response(jsonify(error=f"Isso's client file {name!r} is not here. Install the `isso` package "
                                          "next to the service, or load Isso's script from where the site loaded "
                                          "it before."), 404))
    response = send_file(path, mimetype=FILES[name], max_age=MAX_AGE, conditional=True)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    # Loaded by pages of other sites: a script or stylesheet may be fetched from anywhere (it holds no data).
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
