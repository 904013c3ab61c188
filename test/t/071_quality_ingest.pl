# Expectations at ingestion (issue 13): a Kafka source's row-level
# expectations (create_source / alter_source(expect => ...)) are checked on
# each message; a failing message goes to the dead letters with the
# expectation named (SQLSTATE 23514), the good ones load, exactly once.  A
# batch of nothing but failing messages is the messages' fault, not the
# target's: the source keeps running.  After the expectation is changed,
# a replay of the dead letters loads what passes now.  Only the source
# owner's expectations of that source are applied at ingestion.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('quality_ingest');
my $addr = start_broker("$tmp/broker", qw(qi:1));

my $node = pipeline_node('quality_ingest');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub owner_sql { return $node->safe_psql('postgres', "SET ROLE qi_owner; $_[0]"); }

my $produced = 0;
sub produce
{
	my (@messages) = @_;
	kcat_produce($addr, 'qi', \@messages, partition => 0);
	$produced += @messages;
}
sub at_end
{
	my ($what) = @_;
	wait_for_sql($node, 60,
		q{SELECT coalesce(max(next_offset), -1) FROM pipeline.source_partitions WHERE source = 's_orders'},
		$produced, "$what: the source reaches the end of the topic");
}

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE ROLE qi_owner LOGIN;
GRANT USAGE ON FOREIGN SERVER kafka TO qi_owner;
CREATE SCHEMA qi AUTHORIZATION qi_owner;
SET ROLE qi_owner;
CREATE TABLE qi.orders (id int PRIMARY KEY, amount numeric, status text, email text, _offset bigint);
});

# bad input is refused, nothing created
like(sql_error($node, q{SET ROLE qi_owner;
	SELECT pipeline.create_source('s_bad', 'kafka', 'qi', 'qi.orders',
	    expect => '[{"column": "id", "kind": "unique"}]')}),
	qr/^0A000: expectation 1 of source "s_bad": kind "unique" cannot be checked on one message$/,
	'a kind that needs other rows is refused, with the kinds that work');
like(sql_error($node, q{SET ROLE qi_owner;
	SELECT pipeline.create_source('s_bad', 'kafka', 'qi', 'qi.orders', expect => '{"column": "id"}')}),
	qr/^22023: expect of source "s_bad" must be a JSON array of expectations$/, 'expect must be an array');
like(sql_error($node, q{SET ROLE qi_owner;
	SELECT pipeline.create_source('s_bad', 'kafka', 'qi', 'qi.orders',
	    expect => '[{"column": "id", "kind": "not_null", "where": "true"}]')}),
	qr/^22023: expectation 1 of source "s_bad" is not an object of column, kind, options, name, row_filter$/,
	'an unknown key is refused');
like(sql_error($node, q{SET ROLE qi_owner;
	SELECT pipeline.create_source('s_bad', 'kafka', 'qi', 'qi.orders',
	    expect => '[{"column": "id", "kind": "not_null", "row_filter": "id IN (SELECT 1)"}]')}),
	qr/^0A000: expectation "not_null_id" of source "s_bad" cannot be checked on one message: its row filter has a subquery$/,
	'a row filter with a subquery, which COPY cannot check, is refused when the source is made');
is(sql(q{SELECT count(*) FROM pipeline.sources}) . '/' . sql(q{SELECT count(*) FROM pipeline.expectations}), '0/0',
	'nothing was created by the refused calls');

owner_sql(q{SELECT pipeline.create_source('s_orders', 'kafka', 'qi', 'qi.orders', batch_ms => 200,
    expect => '[{"column": "amount", "kind": "between", "options": {"min": 0}},
                {"column": "status", "kind": "accepted_values", "options": {"values": ["paid", "shipped"]}},
                {"column": "id", "kind": "not_null"}]')});
is(sql(q{SELECT string_agg(name || ':' || origin || ':' || owner, ' ' ORDER BY name) FROM pipeline.expectations}),
	'accepted_values_status:source:s_orders:qi_owner between_amount:source:s_orders:qi_owner '
	  . 'not_null_id:source:s_orders:qi_owner',
	'the source\'s expectations are expectations of its target, with the source as their origin');
# the superuser's expectation with the same origin is not the source owner's: not applied
sql(q{SELECT pipeline.expect('qi.orders', 'email', 'not_null', origin => 'source:s_orders', name => 'forged')});

# 1. good and bad messages mixed
produce(
	'{"id": 1, "amount": 10, "status": "paid"}',
	'{"id": 2, "amount": -5, "status": "paid"}',
	'{"id": 3, "amount": 7, "status": "lost"}',
	'{"amount": 3, "status": "paid"}',
	'{"id": 5, "amount": 0, "status": "shipped"}',
	'{"id": 6, "amount": -1, "status": "stolen"}');
at_end('mixed');
is(sql(q{SELECT string_agg(id || '@' || _offset, ',' ORDER BY id) FROM qi.orders}), '1@0,5@4',
	'the messages that pass every expectation loaded, exactly once (no email needed: the forged one is not applied)');
is(sql(q{SELECT string_agg("offset" || ':' || sqlstate || ':' || error, E'\n' ORDER BY "offset") FROM pipeline.dead_letters}),
	join("\n",
		'1:23514:the message fails expectation "between_amount" of its source',
		'2:23514:the message fails expectation "accepted_values_status" of its source',
		'3:23514:the message fails expectation "not_null_id" of its source',
		'5:23514:the message fails expectation "accepted_values_status" of its source'),
	'each failing message is a dead letter naming the first expectation it fails');

# 2. a batch of nothing but failing messages: the source keeps going
produce('{"id": 7, "amount": -7, "status": "paid"}', '{"id": 8, "amount": -8, "status": "paid"}',
	'{"id": 9, "amount": -9, "status": "paid"}');
at_end('all bad');
is(sql(q{SELECT count(*) FROM pipeline.dead_letters}), '7', 'every message of the bad batch is a dead letter');
is(sql(q{SELECT state || '/' || coalesce(last_error, '') FROM pipeline.source_status WHERE source = 's_orders'}),
	'running/', 'the source is not paused: failing an expectation is the messages\' fault');
produce('{"id": 10, "amount": 1, "status": "paid"}');
at_end('after the bad batch');
is(sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM qi.orders}), '1,5,10', 'later good messages load');

# 3. check() sees the source's expectations; what loaded passes them
is(sql(q{SELECT string_agg(expectation || ':' || status, ' ' ORDER BY expectation)
           FROM pipeline.check('qi.orders') WHERE expectation <> 'forged'}),
	'accepted_values_status:pass between_amount:pass not_null_id:pass', 'the loaded rows pass the source\'s expectations');

# 4. the expectation changed, then a replay: what passes now loads, the rest stays
owner_sql(q{SELECT pipeline.alter_source('s_orders',
    expect => '[{"column": "amount", "kind": "between", "options": {"min": -8}},
                {"column": "status", "kind": "accepted_values", "options": {"values": ["paid", "shipped"]}},
                {"column": "id", "kind": "not_null"}]')});
my $replayed = owner_sql(q{SELECT pipeline.replay_dead_letters('s_orders')});
note("replay: $replayed");
is(sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM qi.orders}), '1,2,5,7,8,10',
	'the replay loads the messages that pass the changed expectation');
is(sql(q{SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM pipeline.dead_letters}), '2,3,5,8',
	'those that still fail stay dead letters');

# 5. alter_source(expect => '[]') removes them all; drop_source too
owner_sql(q{SELECT pipeline.alter_source('s_orders', expect => '[]')});
is(sql(q{SELECT string_agg(name, ',') FROM pipeline.expectations}), 'forged',
	'expect => [] removes the source\'s expectations (not the others)');
produce('{"id": 11, "amount": -100, "status": "odd"}');
at_end('without expectations');
is(sql(q{SELECT count(*) FROM qi.orders WHERE id = 11}), '1', 'without expectations every message loads');
owner_sql(q{SELECT pipeline.alter_source('s_orders', expect => '[{"column": "id", "kind": "not_null"}]')});

# 6. The attack: the target's own trigger calls the WHERE clause's function
# as if a row failed (any token, any expectation, the line past the end):
# nothing is noted, every message loads once, the server stays up
owner_sql(q{
CREATE FUNCTION qi.forge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pipeline._ingest_expectation(0, 0, true), pipeline._ingest_expectation(-1, 1000000000, true),
            pipeline._ingest_expectation(NULL, -5, true);
    RETURN NEW;
END $$;
CREATE TRIGGER forge BEFORE INSERT ON qi.orders FOR EACH ROW EXECUTE FUNCTION qi.forge();
CREATE TRIGGER forge_after AFTER INSERT ON qi.orders FOR EACH ROW EXECUTE FUNCTION qi.forge();
});
my $dead_before = sql(q{SELECT count(*) FROM pipeline.dead_letters});
produce('{"id": 12, "amount": 1, "status": "paid"}', '{"id": 13, "amount": 2, "status": "paid"}',
	'{"amount": 3}');
at_end('a trigger forging notes');
is(sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM qi.orders WHERE id >= 12}), '12,13',
	'a trigger calling the WHERE clause\'s function notes nothing: the good messages load once');
is(sql(q{SELECT count(*) FROM pipeline.dead_letters}) - $dead_before, 1, 'only the message without an id is a dead letter');
owner_sql(q{SELECT pipeline.drop_source('s_orders')});
is(sql(q{SELECT string_agg(name, ',') FROM pipeline.expectations}), 'forged',
	'drop_source drops the source\'s expectations');

$node->stop;
done_testing();
