-- Which librdkafka properties may be set where (issue 10).  A role with
-- USAGE on a Kafka server must not reach a file, a command, a library or an
-- endpoint of the database server's host through a source's or sink's
-- properties, its user mapping, or a server it owns.  Every refusal is a
-- clear error naming the property and where it may be set, and nothing is
-- stored.  No broker is needed: nothing here ever starts a consumer.
CREATE EXTENSION pg_pipeline;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
\set sqlstate '\\echo SQLSTATE :LAST_ERROR_SQLSTATE'
CREATE ROLE pp_props_user LOGIN;
CREATE ROLE pp_props_owner LOGIN;
CREATE SERVER kafka_p FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
GRANT USAGE ON FOREIGN SERVER kafka_p TO pp_props_user;
CREATE TABLE props_events (v text);
GRANT INSERT ON props_events TO pp_props_user;

-- a role with USAGE on the server: source and sink properties are tuning only
SET ROLE pp_props_user;
-- the reported attack: a shell command run as the server's OS user (the
-- first property its level may not give is named)
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"security.protocol": "sasl_plaintext", "sasl.mechanism": "GSSAPI",
                    "sasl.kerberos.kinit.cmd": "touch /tmp/pp_props_pwned"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"sasl.kerberos.kinit.cmd": "touch /tmp/pp_props_pwned"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"plugin.library.paths": "/tmp/evil.so"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"ssl.ca.location": "/etc/ssl/certs"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"ssl.engine.location": "/tmp/engine.so"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"sasl.oauthbearer.token.endpoint.url": "http://169.254.169.254/"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"debug": "all"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"bootstrap.servers": "attacker:9092"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"metadata.broker.list": "attacker:9092"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"sasl.password": "secret"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"security.protocol": "plaintext"}');
:sqlstate
-- known to librdkafka but on no list (a local offset file), and unknown
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"offset.store.path": "/tmp/offsets"}');
:sqlstate
SELECT pipeline.create_source('p_attack', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"no.such.property": "1"}');
:sqlstate
-- sinks take the same checks
SELECT pipeline.create_sink('p_attack', server => 'kafka_p', topic => 't',
    properties => '{"sasl.kerberos.kinit.cmd": "touch /tmp/pp_props_pwned"}');
:sqlstate
SELECT pipeline.create_sink('p_attack', server => 'kafka_p', topic => 't',
    properties => '{"plugin.library.paths": "/tmp/evil.so"}');
:sqlstate
SELECT pipeline.create_sink('p_attack', server => 'kafka_p', topic => 't',
    properties => '{"bootstrap.servers": "attacker:9092"}');
:sqlstate
SELECT pipeline.create_sink('p_attack', server => 'kafka_p', topic => 't',
    properties => '{"ssl.key.password": "secret"}');
:sqlstate
-- nothing was stored
SELECT count(*) AS sources FROM pipeline.sources;
SELECT count(*) AS sinks FROM pipeline.sinks;

-- tuning properties stay allowed (created paused: no consumer starts)
BEGIN;
SELECT pipeline.create_source('p_ok', server => 'kafka_p', topic => 't', target => 'props_events',
    properties => '{"fetch.wait.max.ms": "10", "queued.min.messages": 1000, "client.id": "etl",
                    "session.timeout.ms": "30000", "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed", "queued.max.messages.kbytes": "16384"}');
SELECT pipeline.pause_source('p_ok');
COMMIT;
BEGIN;
SELECT pipeline.create_sink('p_ok', server => 'kafka_p', topic => 't',
    properties => '{"linger.ms": "5", "acks": "all", "batch.num.messages": 100, "message.timeout.ms": "60000"}');
SELECT pipeline.pause_sink('p_ok');
COMMIT;
-- alter_source checks the new properties the same way, and keeps the old ones
SELECT pipeline.alter_source('p_ok', properties => '{"sasl.kerberos.kinit.cmd": "touch /tmp/pp_props_pwned"}');
:sqlstate
SELECT pipeline.alter_source('p_ok', properties => '{"ssl.keystore.location": "/etc/passwd"}');
:sqlstate
SELECT properties FROM pipeline.sources WHERE name = 'p_ok';

-- the role's own user mapping: credentials and tuning, no files or commands
CREATE USER MAPPING FOR pp_props_user SERVER kafka_p OPTIONS ("ssl.key.location" '/etc/ssl/private/server.key');
:sqlstate
CREATE USER MAPPING FOR pp_props_user SERVER kafka_p OPTIONS ("sasl.kerberos.kinit.cmd" 'touch /tmp/pp_props_pwned');
:sqlstate
CREATE USER MAPPING FOR pp_props_user SERVER kafka_p OPTIONS ("sasl.mechanism" 'GSSAPI');
:sqlstate
CREATE USER MAPPING FOR pp_props_user SERVER kafka_p OPTIONS ("bootstrap.servers" 'attacker:9092');
:sqlstate
CREATE USER MAPPING FOR pp_props_user SERVER kafka_p
    OPTIONS (sasl_username 'etl', sasl_password 'secret', "sasl.mechanism" 'SCRAM-SHA-512',
             "security.protocol" 'sasl_ssl', "ssl.key.password" 'secret', "fetch.wait.max.ms" '10');
ALTER USER MAPPING FOR pp_props_user SERVER kafka_p OPTIONS (ADD "ssl.ca.location" '/etc/ssl/certs');
:sqlstate
ALTER USER MAPPING FOR pp_props_user SERVER kafka_p OPTIONS (ADD "plugin.library.paths" '/tmp/evil.so');
:sqlstate
RESET ROLE;

-- a server owned by a role that is not a superuser: no file, command or library
GRANT USAGE ON FOREIGN DATA WRAPPER pipeline_kafka TO pp_props_owner;
SET ROLE pp_props_owner;
CREATE SERVER kafka_o FOREIGN DATA WRAPPER pipeline_kafka
    OPTIONS (brokers '127.0.0.1:1', "security.protocol" 'sasl_ssl', "sasl.mechanism" 'SCRAM-SHA-256',
             "ssl.endpoint.identification.algorithm" 'https', "fetch.wait.max.ms" '10');
ALTER SERVER kafka_o OPTIONS (ADD "sasl.kerberos.kinit.cmd" 'touch /tmp/pp_props_pwned');
:sqlstate
ALTER SERVER kafka_o OPTIONS (ADD "ssl.ca.location" '/etc/ssl/certs');
:sqlstate
ALTER SERVER kafka_o OPTIONS (SET "sasl.mechanism" 'GSSAPI');
:sqlstate
ALTER SERVER kafka_o OPTIONS (ADD "sasl.password" 'secret');
:sqlstate
CREATE SERVER kafka_o2 FOREIGN DATA WRAPPER pipeline_kafka
    OPTIONS (brokers '127.0.0.1:1', "plugin.library.paths" '/tmp/evil.so');
:sqlstate
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname LIKE 'kafka_o%' ORDER BY 1;
RESET ROLE;

-- a superuser may name files on a server; secrets still go to user mappings
CREATE SERVER kafka_su FOREIGN DATA WRAPPER pipeline_kafka
    OPTIONS (brokers '127.0.0.1:1', "security.protocol" 'ssl', "ssl.ca.location" '/etc/ssl/certs');
ALTER SERVER kafka_su OPTIONS (ADD "sasl.password" 'secret');
:sqlstate
ALTER SERVER kafka_su OPTIONS (ADD sasl_password 'secret');
:sqlstate
ALTER SERVER kafka_su OPTIONS (ADD "ssl.keystore.password" 'secret');
:sqlstate
CREATE USER MAPPING FOR pp_props_user SERVER kafka_su
    OPTIONS (sasl_username 'etl', sasl_password 'secret', "ssl.key.password" 'secret');
-- even a superuser cannot put a file on a user mapping or a source
CREATE USER MAPPING FOR PUBLIC SERVER kafka_su OPTIONS ("ssl.key.location" '/etc/ssl/private/k.pem');
:sqlstate
GRANT USAGE ON FOREIGN SERVER kafka_su TO pp_props_user;
SET ROLE pp_props_user;
BEGIN;
SELECT pipeline.create_source('p_su', server => 'kafka_su', topic => 't', target => 'props_events');
ROLLBACK;
RESET ROLE;

-- a superuser-only property is used only from a server owned by a superuser:
-- once the owner is a role that is not, the server is refused when used,
-- and its owner cannot change its options either
ALTER SERVER kafka_su OWNER TO pp_props_owner;
SET ROLE pp_props_user;
SELECT pipeline.create_source('p_su', server => 'kafka_su', topic => 't', target => 'props_events');
:sqlstate
SET ROLE pp_props_owner;
ALTER SERVER kafka_su OPTIONS (ADD "fetch.wait.max.ms" '10');
:sqlstate
RESET ROLE;
ALTER SERVER kafka_su OWNER TO CURRENT_USER;

-- properties written around the functions (by an older version, or by the
-- owner editing its own row of pipeline.sources) are checked again when
-- used: by the consumer (test/t/020) and by alter_source
SET ROLE pp_props_user;
UPDATE pipeline.sources SET properties = '{"sasl.kerberos.kinit.cmd": "touch /tmp/pp_props_pwned"}'
 WHERE name = 'p_ok';
SELECT pipeline.alter_source('p_ok', batch_rows => 100);
:sqlstate
RESET ROLE;
SELECT count(*) AS sources FROM pipeline.sources;

-- clean up
SELECT pipeline.drop_source('p_ok');
SELECT pipeline.drop_sink('p_ok');
DROP USER MAPPING FOR pp_props_user SERVER kafka_p;
DROP USER MAPPING FOR pp_props_user SERVER kafka_su;
DROP SERVER kafka_o;
DROP SERVER kafka_su;
DROP SERVER kafka_p;
DROP TABLE props_events;
REVOKE USAGE ON FOREIGN DATA WRAPPER pipeline_kafka FROM pp_props_owner;
DROP EXTENSION pg_pipeline CASCADE;
DROP ROLE pp_props_user, pp_props_owner;
