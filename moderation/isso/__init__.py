"""The endpoints Isso's own client calls, so a site running Isso points its embed here and keeps its markup."""
