# A window over a Kafka source's table, and DROP of the window's result
# (issue 11).  In 0.5.0, DROP TABLE of the result was accepted, then every
# later message of the source went to the dead letters while the source
# showed "running", and window_status raised a syntax error.  Now the plain
# DROP is refused (the window's triggers depend on the result); DROP ...
# CASCADE removes the window whole, the source goes on loading every
# message, and the maintainer of the async window stops once no async
# window is left.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $pp_broker = broker_program();
my $tmp = PostgreSQL::Test::Utils::tempdir('window_drop');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(ev:1));

my $node = pipeline_node('window_drop', conf => "timezone = 'UTC'\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub wait_sql { wait_for_sql($node, @_) }

my $n = 0;
sub produce
{
	for my $k (@_)
	{
		$n++;
		system($pp_broker, 'cmd', $bdir, 'produce', 'ev', '0', '1700000000000',
			sprintf('{"t":"2026-01-01T00:%02d:00Z","k":"%s","v":%d}', $n, $k, $n)) == 0
		  or die "produce failed";
	}
}

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
CREATE TABLE ev (t timestamptz, k text, v int);
CREATE INDEX ON ev (t);
SELECT pipeline.create_window('w_sync', 'ev', 't', pipeline.tumble('1 hour'), 'count(*) AS n, sum(v) AS s',
    group_by => '{k}');
SELECT pipeline.create_window('w_async', 'ev', 't', pipeline.tumble('1 hour'), 'count(*) AS n',
    emit => 'on_close', mode => 'async');
SELECT pipeline.create_source('src', 'kafka', 'ev', 'ev');
});

produce(qw(a b a));
wait_sql(60, q{SELECT count(*) FROM ev}, '3', 'the first messages load');
is(sql(q{SELECT string_agg(k || ':' || n || ':' || s, ',' ORDER BY k) FROM w_sync}), 'a:2:4,b:1:2',
	'the sync window is maintained');
wait_sql(30, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline maintainer'}, '1',
	'the async window has its maintainer');

my ($rc, $out, $err) = $node->psql('postgres', 'DROP TABLE w_sync');
like($err, qr/cannot drop table w_sync because other objects depend on it/,
	'DROP TABLE of the result is refused');
like($err, qr/trigger pp_window_1_insert on table ev depends on table w_sync/,
	'with PostgreSQL\'s own detail: the window\'s triggers depend on it');

sql('DROP TABLE w_sync CASCADE');
sql('DROP VIEW w_async CASCADE');
is(sql(q{SELECT count(*) FROM pipeline.windows}), '0', 'CASCADE removes the windows from the catalog');
is(sql(q{SELECT count(*) FROM pipeline.window_status}), '0', 'window_status works and lists none');
is(sql(q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ev'::regclass}), '0',
	'and their triggers on the source');

produce(qw(c d));
wait_sql(60, q{SELECT count(*) FROM ev}, '5', 'later messages load into the source table');
is(sql(q{SELECT concat_ws(':', state, dead_letters, coalesce(last_error, '-')) FROM pipeline.source_status}),
	'running:0:-', 'the source is running, with no dead letter and no error');
wait_sql(30, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline maintainer'}, '0',
	'the maintainer stops: no async window is left');

# The upgrade from 0.5.0 records the dependencies of the windows it finds
# (0.5.0 recorded none: they are deleted here to make such windows), and
# removes a window whose result a DROP TABLE took (the catalog hidden from
# the object access hook, as 0.5.0 had none).
sql('CREATE DATABASE old');
$node->safe_psql('old', q{
CREATE EXTENSION pg_pipeline VERSION '0.5.0';
CREATE TABLE ev (t timestamptz, k text, v int);
INSERT INTO ev VALUES ('2026-01-01 00:00:10+00', 'a', 1);
SELECT pipeline.create_window('kept', 'ev', 't', pipeline.tumble('1 hour'), 'count(*) AS n',
    late_rows => 'side_table');
SELECT pipeline.create_window('lost', 'ev', 't', pipeline.tumble('1 hour'), 'count(*) AS n');
DELETE FROM pg_depend d USING pipeline.windows w
 WHERE (d.classid = 'pg_class'::regclass AND d.objid IN (w.result, w.late_table)
        AND d.refobjid IN (w.result, w.source) AND d.refobjsubid = 0)
    OR (d.classid = 'pg_trigger'::regclass AND d.refobjid = w.result);
ALTER SCHEMA pipeline RENAME TO pipeline_hidden;
DROP TABLE lost;
ALTER SCHEMA pipeline_hidden RENAME TO pipeline;
});
($rc, $out, $err) = $node->psql('old', 'INSERT INTO ev VALUES (now(), \'b\', 2)');
like($err, qr/window aggregate "public.lost" lost its state table/, '0.5.0: the lost window fails every write');
($rc, $out, $err) = $node->psql('old', 'ALTER EXTENSION pg_pipeline UPDATE');
is($rc, 0, 'the update runs');
like($err, qr/WARNING:  window aggregate "public.lost" had lost one of its relations: removed/,
	'and says which window it removed');
is($node->safe_psql('old', q{SELECT string_agg(name, ',') FROM pipeline.window_status}), 'public.kept',
	'the other window is kept');
($rc, $out, $err) = $node->psql('old', 'DROP TABLE kept');
like($err, qr/trigger pp_window_1_insert on table ev depends on table kept/,
	'its result cannot be dropped any more');
($rc, $out, $err) = $node->psql('old', 'DROP TABLE kept_late');
like($err, qr/cannot drop table kept_late because table kept requires it/, 'nor its side table');
$node->safe_psql('old', q{INSERT INTO ev VALUES ('2026-01-01 00:00:20+00', 'b', 2)});
is($node->safe_psql('old', 'SELECT n FROM kept'), '2', 'writes to the source are maintained again');

$node->stop;
done_testing();
