# Producers against targets with features the simple cases miss (issue 10,
# found by a review of 0.5.0's first draft; each failed then):
#   A. a DEFERRABLE INITIALLY DEFERRED unique constraint: one duplicate
#      message was checked at COMMIT, outside the search for bad messages,
#      and stopped the source for ever; now it is a dead letter;
#   B. a tsquery column: one message with bad syntax raised 42601, a class
#      blamed on the target, and paused a dead_letter source; now it is a
#      dead letter;
#   C. an hstore column: one message raising XX000 (elog) was "transient"
#      and stopped a skip source for ever; now it is skipped;
#   D. the source owner's client_encoding (ALTER ROLE ... SET) was what COPY
#      decoded the lines with: UTF-8 loaded as LATIN1 mojibake; now COPY
#      reads the database's encoding.
# In each, the good messages after the bad one load.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('hostile_targets');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(def:1 tsq:1 enc:1 hs:1));

my $node = pipeline_node('hostile_targets',
	init => { extra => [ '--encoding=UTF8', '--locale=C' ] });
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE EXTENSION hstore;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE t_def (id int UNIQUE DEFERRABLE INITIALLY DEFERRED, name text);
CREATE TABLE t_tsq (id int, q tsquery);
CREATE TABLE t_hs (id int, h hstore);
CREATE TABLE t_enc (v text);
CREATE ROLE pp_enc LOGIN;
GRANT USAGE ON FOREIGN SERVER kafka TO pp_enc;
GRANT INSERT ON t_enc TO pp_enc;
ALTER ROLE pp_enc SET client_encoding = 'LATIN1';
SELECT pipeline.create_source('s_def', 'kafka', 'def', 'public.t_def', on_error => 'dead_letter', batch_ms => 500);
SELECT pipeline.create_source('s_tsq', 'kafka', 'tsq', 'public.t_tsq', on_error => 'dead_letter', batch_ms => 500);
SELECT pipeline.create_source('s_hs', 'kafka', 'hs', 'public.t_hs', on_error => 'skip', batch_ms => 500);
SET ROLE pp_enc;
SELECT pipeline.create_source('s_enc', 'kafka', 'enc', 'public.t_enc', format => 'text', target_column => 'v');
});

kcat_produce($addr, 'def', [ '{"id": 1, "name": "a"}', '{"id": 2, "name": "b"}' ]);
kcat_produce($addr, 'tsq', [ '{"id": 1, "q": "a & b"}' ]);
kcat_produce($addr, 'hs', [ '{"id": 1, "h": "a=>1"}' ]);
ok(defined wait_until(60, sub { sql('SELECT (SELECT count(*) FROM t_def) + (SELECT count(*) FROM t_tsq)
                                           + (SELECT count(*) FROM t_hs)') eq '4' }),
	'good messages load');

# the bad message, then good ones, in one batch
kcat_produce($addr, 'def', [ '{"id": 1, "name": "dup"}', '{"id": 3, "name": "c"}', '{"id": 4, "name": "d"}' ]);
kcat_produce($addr, 'tsq', [ '{"id": 2, "q": "a & "}', '{"id": 3, "q": "c"}', '{"id": 4, "q": "d"}' ]);
kcat_produce($addr, 'hs', [ '{"id": 2, "h": "a=>"}', '{"id": 3, "h": "b=>2"}' ]);
kcat_produce($addr, 'enc', [ "caf\xc3\xa9" ]);

ok(defined wait_until(60, sub { sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM t_def}) eq '1,2,3,4' }),
	'A: after a duplicate under a deferred unique constraint, the good messages load');
is(sql(q{SELECT string_agg("offset" || ':' || sqlstate, ',') FROM pipeline.dead_letters WHERE source = 's_def'}),
	'2:23505', 'A: the duplicate is a dead letter (23505), at its offset');
ok(defined wait_until(60, sub { sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM t_tsq}) eq '1,3,4' }),
	'B: after a tsquery syntax error, the good messages load');
is(sql(q{SELECT state FROM pipeline.source_status WHERE source = 's_tsq'}), 'running',
	'B: one message does not pause the source');
is(sql(q{SELECT string_agg("offset" || ':' || sqlstate, ',') FROM pipeline.dead_letters WHERE source = 's_tsq'}),
	'1:42601', 'B: the message is a dead letter (42601)');
ok(defined wait_until(60, sub { sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM t_hs}) eq '1,3' }),
	'C: a message raising XX000 in an input function is skipped, the next loads');
ok(defined wait_until(60, sub { sql(q{SELECT count(*) FROM t_enc}) eq '1' }), 'D: the message loads');
is(sql(q{SELECT encode(convert_to(v, 'UTF8'), 'hex') FROM t_enc}), '636166c3a9',
	'D: "café" is stored as sent, whatever the owner\'s client_encoding');

done_testing();
