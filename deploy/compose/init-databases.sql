-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d). Each stateful service owns its own database.
CREATE DATABASE catalog OWNER dpm;
CREATE DATABASE requirements OWNER dpm;
