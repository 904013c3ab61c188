# pg_dump restores a working pipeline (issue 14, item 4; docs/backup.md).
#
# One database, src, owned by alice, holds a Kafka source (a 2-partition
# topic into raw.events, one dead letter), a sink, a sync and an async
# window on the events, a DAG with a cron schedule, a DAG triggered by new
# rows of raw.events, a one-line job, a model with two expectations and a
# data contract's two.  Messages are loaded; more are produced while
# pg_dump runs (custom format, then plain), so the dump is taken with a
# consumer at work; each dump is restored into a new database on the same
# server: cust (pg_restore --single-transaction), plain (psql
# --single-transaction) and multi (pg_restore, a transaction per
# statement: the restoring session pauses the database's workers until it
# ends, which a background session that copies into a catalog as
# pg_dump's scripts do shows).
#
# What a restore into a second database on the same server means: the
# copy is a second pipeline.  It has its own offsets, starting where src's
# were in the dump's snapshot, and its own workers; both databases load
# the topic.  So every database has each message exactly once: at the
# restore, each partition's offset equals its number of rows (plus dead
# letters), and after it, the messages produced later are loaded by src
# and by each copy, none twice (unique partition and offset), none lost.
#
# Then, in each copy: the definitions came over (the catalogs' rows, equal
# to src's; dead letters too), no run history or check result did, the
# consumer, sink and maintainer run for that database, rows update both
# windows, the cron DAG has its next fire and runs when asked, the
# data-triggered DAG runs on new rows, the job ticks, the model runs and
# check() checks it, the contract applied again finds its expectations,
# a message published to the sink arrives in Kafka once, and the windows'
# dependencies are src's (the restore records them again): RENAME and
# DROP COLUMN of a column a window reads are refused, DROP TABLE ...
# CASCADE of the source takes the windows whole.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

skip_without_kcat();

my $tmp = PostgreSQL::Test::Utils::tempdir('dump_restore');
my $addr = start_broker("$tmp/broker", qw(ev:2 out:1));

# four databases of four workers each (coordinator, consumer, sink,
# maintainer), and the runners of their DAGs
my $node = pipeline_node('dump_restore',
	conf => "pg_pipeline.naptime = '200ms'\npg_pipeline.max_workers = 28\n");
$node->start;

sub sql_in { my ($db, $q) = @_; return $node->safe_psql($db, $q); }
sub alice_in
{
	my ($db, $q) = @_;
	return $node->safe_psql($db, $q, extra_params => [ '-U', 'alice' ]);
}

# Wait at most $timeout seconds until a query in $db gives $want; checked
# with is() (a timeout shows the last answer).
sub wait_in
{
	my ($db, $timeout, $q, $want, $name) = @_;
	my $got;
	wait_until($timeout, sub {
		$got = eval { sql_in($db, $q) } // "error: $@";
		$got eq $want });
	return is($got, $want, $name);
}

# Produce events $from..$to, alternating the two partitions; event n is on
# page "p" . (n % 3), at 2026-12-01 10:00 plus n seconds.
sub produce
{
	my ($from, $to) = @_;
	for my $p (0, 1)
	{
		my @m = map { sprintf('{"id": %d, "page": "p%d", "ts": "2026-12-01 10:%02d:%02d+00"}',
				$_, $_ % 3, int($_ / 60), $_ % 60) } grep { $_ % 2 == $p } $from .. $to;
		kcat_produce($addr, 'ev', \@m, partition => $p);
	}
}

# ---- src: the pipeline ------------------------------------------------------
$node->safe_psql('postgres', q{CREATE ROLE alice LOGIN; CREATE DATABASE src OWNER alice;});
sql_in('src', qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
GRANT USAGE ON FOREIGN SERVER kafka TO alice;
CREATE SCHEMA raw AUTHORIZATION alice;
CREATE SCHEMA marts AUTHORIZATION alice;
});
alice_in('src', q{
CREATE TABLE raw.events (id int, page text, ts timestamptz, _partition int, _offset bigint,
                         UNIQUE (_partition, _offset));
CREATE INDEX ON raw.events (ts);
CREATE TABLE raw.log (what text, at timestamptz DEFAULT clock_timestamp());
SELECT pipeline.create_source('ev', 'kafka', 'ev', 'raw.events', batch_ms => 10);
SELECT pipeline.create_sink('out', 'kafka', 'out');
SELECT pipeline.create_window('marts.views_sync', 'raw.events', 'ts', pipeline.tumble('1 hour'),
                              'count(*) AS n, max(id) AS last_id', group_by => '{page}');
SELECT pipeline.create_window('marts.views_async', 'raw.events', 'ts', pipeline.tumble('1 hour'),
                              'count(*) AS n', group_by => '{page}', mode => 'async');
SELECT pipeline.create_dag('nightly', '0 3 * * *', 'UTC');
SELECT pipeline.add_task('nightly', 'count', $$INSERT INTO raw.log (what) SELECT 'nightly ' || count(*) FROM raw.events$$);
SELECT pipeline.create_dag('ondata', trigger_on => '{raw.events}');
SELECT pipeline.add_task('ondata', 'note', $$INSERT INTO raw.log (what) VALUES ('ondata')$$);
SELECT pipeline.schedule('tick', '1 second', $$INSERT INTO raw.log (what) VALUES ('tick')$$);
SELECT pipeline.create_model('marts.page_counts', 'SELECT page, count(*) AS n FROM raw.events GROUP BY page',
                             materialized => 'table');
});

# counts of the events, as the windows and the model must show them
my $by_page = q{SELECT string_agg(page || '=' || n, ' ' ORDER BY page)
                  FROM (SELECT page, count(*) AS n FROM raw.events GROUP BY page) c};
my $sync = q{SELECT string_agg(page || '=' || n, ' ' ORDER BY page) FROM marts.views_sync};
my $async = q{SELECT string_agg(page || '=' || n, ' ' ORDER BY page) FROM marts.views_async};
my $loaded = q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) || ' ' || coalesce(sum(id), 0)
                 FROM raw.events};
sub loaded_want { my ($n) = @_; return "$n $n " . ($n * ($n + 1) / 2); }
# exactly once, at any snapshot: every partition's stored offset is the
# number of its messages, loaded or dead-lettered
my $offsets_match = q{SELECT string_agg(o.partition || ':' || o.next_offset || '=' ||
                                        ((SELECT count(*) FROM raw.events e WHERE e._partition = o.partition)
                                         + (SELECT count(*) FROM pipeline.dead_letters d
                                             WHERE d.source = o.source AND d.partition = o.partition)),
                                        ' ' ORDER BY o.partition)
                        FROM pipeline.source_offsets o};
my $offsets_want = sub { my ($p0, $p1) = @_; return "0:$p0=$p0 1:$p1=$p1"; };

kcat_produce($addr, 'ev', ['not json'], partition => 0);
produce(1, 40);
wait_in('src', 60, $loaded, loaded_want(40), 'src: the 40 messages are loaded');
is(sql_in('src', $offsets_match), $offsets_want->(21, 20), 'src: offsets 21 (a dead letter) and 20');
wait_in('src', 30, $async, sql_in('src', $by_page), 'src: the async window caught up');
is(sql_in('src', $sync), sql_in('src', $by_page), 'src: the sync window counts every event');
is(alice_in('src', q{SELECT string_agg(model || ':' || status, ' ') FROM pipeline.run()}),
	'marts.page_counts:success', 'src: the model builds');
alice_in('src', q{SELECT pipeline.expect('marts.page_counts', 'page', 'not_null');
                  SELECT pipeline.expect('marts.page_counts', 'page', 'unique')});
# a data contract: its expectations are marked with its id
my $contract = q{apiVersion: v3.1.0
kind: DataContract
id: pages
version: 1.0.0
status: active
servers:
  - server: warehouse
    type: postgres
    schema: marts
schema:
  - name: page_counts
    properties:
      - name: n
        logicalType: integer
        required: true
    quality:
      - metric: rowCount
        mustBeGreaterThan: 0
};
my $apply = "SELECT string_agg(item || ':' || action, ' ' ORDER BY item) FROM pipeline.apply_contract(\$c\$$contract\$c\$)";
is(alice_in('src', $apply), 'marts.page_counts: not_null_n:created marts.page_counts: row_count:created',
	'src: the contract creates its expectations');
my $checked = q{SELECT string_agg(expectation || ':' || status || ':' || total, ' ' ORDER BY expectation)
                  FROM pipeline.check('marts.page_counts')};
is(alice_in('src', $checked), 'not_null_n:pass:3 not_null_page:pass:3 row_count:pass:3 unique_page:pass:3',
	'src: the expectations pass');
alice_in('src', q{SELECT pipeline.publish('out', 'before the dump')});
ok(defined wait_sink_drained_in('src', 'out', 60), 'src: the sink published');
wait_in('src', 30, q{SELECT count(*) > 0 FROM raw.log WHERE what = 'tick'}, 't', 'src: the job ticks');

sub wait_sink_drained_in
{
	my ($db, $sink, $timeout) = @_;
	return wait_until($timeout, sub {
		my ($ret, $out) = $node->psql($db, "SELECT waiting FROM pipeline.sink_status WHERE sink = '$sink'");
		$ret == 0 && $out eq '0' });
}

# What the catalogs hold: every definition, compared between src and a
# copy (names, not OIDs: the copy's relations have other OIDs).
my %catalog = (
	sources => q{SELECT string_agg(concat_ws('|', name, owner, server, topic, target, format, on_error, consumers,
	                                         batch_ms, paused, owner_oid = 'alice'::regrole,
	                                         target_oid = 'raw.events'::regclass), E'\n' ORDER BY name)
	               FROM pipeline.sources},
	sinks => q{SELECT string_agg(concat_ws('|', name, owner, server, topic, owner_oid = 'alice'::regrole), E'\n')
	             FROM pipeline.sinks},
	sink_progress => q{SELECT string_agg(concat_ws('|', sink, last_seq, published), E'\n') FROM pipeline.sink_progress},
	windows => q{SELECT string_agg(concat_ws('|', id, name, result, state_table, delta_table, source, kind, size,
	                                         group_by, aggregates, mode, owner, owner_oid = 'alice'::regrole),
	                               E'\n' ORDER BY id) FROM pipeline.windows},
	dags => q{SELECT string_agg(concat_ws('|', d.dag_id, d.name, d.schedule, d.timezone, d.trigger_on, d.is_job,
	                                      d.enabled, d.owner, d.owner_oid = 'alice'::regrole,
	                                      (SELECT string_agg(t.name || ':' || coalesce(t.command, t.sensor), ',')
	                                         FROM pipeline.tasks t WHERE t.dag_id = d.dag_id)),
	                            E'\n' ORDER BY d.dag_id) FROM pipeline.dags d},
	models => q{SELECT string_agg(concat_ws('|', model_id, name, owner, materialized, sql), E'\n' ORDER BY model_id)
	              FROM pipeline.models},
	expectations => q{SELECT string_agg(concat_ws('|', expectation_id, relation, name, kind, columns, severity, origin),
	                                    E'\n' ORDER BY expectation_id) FROM pipeline.expectations},
	dead_letters => q{SELECT string_agg(concat_ws('|', id, source, partition, "offset", payload_size, owner), E'\n')
	                    FROM pipeline.dead_letters});
my %src = map { $_ => sql_in('src', $catalog{$_}) } keys %catalog;
is($src{dead_letters}, '1|ev|0|0|8|alice', 'src: one dead letter');

# ---- dump while messages arrive, restore into new databases ----------------------
# 15 more messages go to the topic as pg_dump runs: src's consumer loads
# them before, during or after the dump's snapshot; whatever the dump
# holds, it holds the rows and the offsets of the same transactions.
my $custom = "$tmp/src.dump";
my $plain = "$tmp/src.sql";
my $dumped_at = sql_in('src', 'SELECT now()');
produce(41, 55);
$node->command_ok([ 'pg_dump', '-Fc', '-f', $custom, '-d', $node->connstr('src') ], 'pg_dump -Fc of src');
$node->command_ok([ 'pg_dump', '-Fp', '-f', $plain, '-d', $node->connstr('src') ], 'pg_dump -Fp of src');

$node->safe_psql('postgres', 'CREATE DATABASE cust OWNER alice; CREATE DATABASE plain OWNER alice;
                              CREATE DATABASE multi OWNER alice');
$node->command_ok([ 'pg_restore', '--exit-on-error', '--single-transaction', '-d', $node->connstr('cust'), $custom ],
	'pg_restore --single-transaction into cust');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', $plain,
	'-d', $node->connstr('plain') ], 'psql --single-transaction -f the plain dump into plain');
# statement by statement: the restore's session pauses the database's
# workers from its first COPY into the catalogs until it ends
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('multi'), $custom ],
	'pg_restore (a transaction per statement) into multi');

my @copies = qw(cust plain multi);
for my $db (@copies)
{
	for my $c (sort keys %catalog)
	{
		is(sql_in($db, $catalog{$c}), $src{$c}, "$db: pipeline.$c as in src");
	}
	like(sql_in($db, $offsets_match), qr/^0:(\d+)=\1 1:(\d+)=\2$/,
		"$db: offsets restored with the rows: each partition's offset is its number of messages");
	is(sql_in($db, "SELECT ($sync) IS NOT DISTINCT FROM ($by_page)"), 't', "$db: the sync window's rows came over");
	is(sql_in($db, qq{SELECT count(*) FROM pipeline.dag_runs WHERE created_at <= '$dumped_at'}), '0',
		"$db: no run of src (run history is not dumped)");
	is(sql_in($db, q{SELECT count(*) FROM pipeline.check_results}), '0', "$db: check results are not dumped");
	is(sql_in($db, q{SELECT count(*) FROM pipeline.model_runs}), '0', "$db: model runs are not dumped");
}

# ---- workers start for each copy ------------------------------------------------
for my $db (@copies)
{
	wait_in($db, 60, q{SELECT string_agg(kind || ':' || coalesce(works_on, '') || ':' || database, ' ' ORDER BY kind)
	                     FROM pipeline.workers WHERE kind IN ('consumer', 'sink', 'maintainer') AND state = 'running'},
		"consumer:ev:$db maintainer:windows:$db sink:out:$db", "$db: its consumer, sink and maintainer run");
}

# ---- a restoring session pauses its database ------------------------------------
# (a superuser's COPY into the catalogs with check_function_bodies off, as
# pg_dump's scripts run it); another role's does not (row security refuses
# it, and a pause is a superuser's: it stops every role's workers)
my $running = q{SELECT string_agg(kind, ' ' ORDER BY kind) FROM pipeline.workers
                 WHERE kind IN ('coordinator', 'consumer', 'sink', 'maintainer') AND state = 'running'};
sql_in('cust', q{GRANT pg_read_server_files TO alice});	# to COPY from a file
my $not_restore = $node->background_psql('cust', extra_params => [ '-U', 'alice' ], on_error_stop => 0);
$not_restore->query(q{SET check_function_bodies = off; COPY pipeline.dead_letters FROM '/dev/null'});
like($not_restore->{stderr}, qr/COPY FROM not supported with row-level security/, 'cust: alice may not COPY into the catalogs');
sleep 1;
is(sql_in('cust', $running), 'consumer coordinator maintainer sink', "cust: nor does her attempt pause anything");
$not_restore->quit;
sql_in('cust', q{REVOKE pg_read_server_files FROM alice});
# a role with CREATEDB that holds every database-wide pause open (16
# renames in one open transaction) does not make the restore run unpaused
# (review of 0.9.0: a restore has pauses of its own)
sql_in('cust', q{CREATE ROLE crowd LOGIN CREATEDB});
sql_in('cust', "CREATE DATABASE crowd_$_ OWNER crowd") for 1 .. 16;
my $crowd = $node->background_psql('cust', extra_params => [ '-U', 'crowd' ]);
$crowd->query_safe('BEGIN');
$crowd->query_safe("ALTER DATABASE crowd_$_ RENAME TO crowd_x$_") for 1 .. 16;
my $restore = $node->background_psql('cust');
$restore->query_safe(q{SET check_function_bodies = off; COPY pipeline.dead_letters FROM '/dev/null'});
unlike($restore->{stderr}, qr/not paused during this restore/, 'cust: 16 pauses held open by a role do not crowd out the restore');
$crowd->quit;
sql_in('cust', "DROP DATABASE crowd_$_") for 1 .. 16;
sql_in('cust', q{DROP ROLE crowd});
wait_in('cust', 30, $running, '', "cust: a restoring session pauses the database: no worker runs");
sleep 1;
is(sql_in('cust', $running), '', 'cust: nor starts again while the session lasts');
$restore->quit;
wait_in('cust', 60, $running, 'consumer coordinator maintainer sink', 'cust: the workers start again when it ends');

# ---- offsets kept: new messages are loaded by every database, once ------------
produce(56, 70);
for my $db ('src', @copies)
{
	wait_in($db, 60, $loaded, loaded_want(70), "$db: every message loaded once, none twice, none lost");
	is(sql_in($db, $offsets_match), $offsets_want->(36, 35), "$db: offsets 36 and 35");
}

# ---- windows are maintained ------------------------------------------------------
for my $db (@copies)
{
	alice_in($db, q{INSERT INTO raw.events (id, page, ts) VALUES (1000, 'p-restored', '2026-12-01 11:30+00')});
	is(sql_in($db, $sync), sql_in($db, $by_page), "$db: the sync window counts the new messages and the inserted row");
	wait_in($db, 30, $async, sql_in($db, $by_page), "$db: the async window caught up");
}
is(sql_in('src', q{SELECT count(*) FROM marts.views_sync WHERE page = 'p-restored'}), '0',
	'src: a row inserted in a copy is not in src');

# ---- the DAGs and the job ----------------------------------------------------------
for my $db (@copies)
{
	is(sql_in($db, q{SELECT next_fire_at = pipeline.cron_next('0 3 * * *', now(), 'UTC') FROM pipeline.dags
	                  WHERE name = 'nightly'}), 't', "$db: the cron DAG's next fire is scheduled");
	alice_in($db, q{SELECT pipeline.run_now('nightly')});
	wait_in($db, 60, q{SELECT string_agg(DISTINCT dag || ':' || run_type || ':' || status, ' ')
	                     FROM pipeline.dag_runs WHERE dag IN ('nightly', 'ondata')},
		'nightly:manual:success ondata:data:success', "$db: the cron DAG ran when asked, the data DAG on new rows");
	is(sql_in($db, q{SELECT what FROM raw.log WHERE what LIKE 'nightly%'}), 'nightly 71',
		"$db: the DAG's task ran on the copy's rows");
	my $ticks = sql_in($db, q{SELECT count(*) FROM raw.log WHERE what = 'tick'});
	wait_in($db, 30, qq{SELECT count(*) > $ticks FROM raw.log WHERE what = 'tick'}, 't', "$db: the job ticks");
}

# ---- models and expectations --------------------------------------------------------
for my $db (@copies)
{
	is(alice_in($db, q{SELECT string_agg(model || ':' || status || ':' || rows, ' ') FROM pipeline.run()}),
		'marts.page_counts:success:4', "$db: the model runs");
	is(alice_in($db, q{SELECT string_agg(page || '=' || n, ' ' ORDER BY page) FROM marts.page_counts}),
		sql_in($db, $by_page), "$db: the model has the copy's rows");
	is(alice_in($db, $checked), 'not_null_n:pass:4 not_null_page:pass:4 row_count:pass:4 unique_page:pass:4',
		"$db: check() works");
	is(alice_in($db, $apply), 'marts.page_counts: not_null_n:unchanged marts.page_counts: row_count:unchanged',
		"$db: the contract applied again: its restored expectations are its own");
	is(sql_in($db, $catalog{expectations}), $src{expectations},
		"$db: applying the contract again finds its restored expectations");
}

# ---- the sink publishes from each copy, once -----------------------------------------
for my $db (@copies)
{
	alice_in($db, qq{SELECT pipeline.publish('out', 'from $db')});
	ok(defined wait_sink_drained_in($db, 'out', 60), "$db: the sink published");
}
alice_in('src', q{SELECT pipeline.publish('out', 'from src')});
ok(defined wait_sink_drained_in('src', 'out', 60), 'src: the sink published');
is(join(',', sort map { $_->{payload} } read_topic($addr, 'out')), 'before the dump,from cust,from multi,from plain,from src',
	'the topic has each published message once');

# ---- dependencies: as create_window recorded them in src ----------------------------
# pg_dump does not carry pg_depend; the restore's CREATE TRIGGER of each
# window trigger records them again (the utility hook)
my $depends = q{SELECT string_agg(DISTINCT pg_describe_object(classid, objid, objsubid) || ' -> '
                                  || pg_describe_object(refclassid, refobjid, refobjsubid) || ' ' || deptype::text, E'\n')
                  FROM pg_depend
                 WHERE deptype IN ('n', 'i')
                   AND ((classid = 'pg_trigger'::regclass
                         AND objid IN (SELECT oid FROM pg_trigger WHERE tgname LIKE 'pp\_window\_%'))
                        OR (classid = 'pg_class'::regclass
                            AND objid IN (SELECT oid FROM pg_class WHERE relname LIKE 'views\_%')))};
my $src_depends = sql_in('src', $depends);
like($src_depends, qr/trigger pp_window_1_insert on table raw.events -> column page of table raw.events n/,
	'src: the triggers depend on the columns they read');

# the attack: mallory writes a row of pipeline.windows naming alice's
# window table as its result and her own table as its source, then creates
# the trigger a restore would; a dependency of alice's table on hers would
# let her DROP ... CASCADE take alice's table
# (alice lets others see into her schema: a window's row names relations)
sql_in('cust', q{CREATE ROLE mallory LOGIN; CREATE SCHEMA mallory AUTHORIZATION mallory});
alice_in('cust', q{GRANT USAGE ON SCHEMA marts TO PUBLIC});
my $forged = $node->safe_psql('cust', q{
CREATE TABLE mallory.t (ts timestamptz);
CREATE FUNCTION mallory.f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
INSERT INTO pipeline.windows (name, result, state_table, source, time_column, kind, size, aggregates,
                              agg_names, agg_kinds, agg_exprs, agg_args, agg_types, columns, emit,
                              late_rows, mode)
VALUES ('mallory.w', 'marts.views_sync', 'marts.views_sync', 'mallory.t', 'ts', 'tumble', '1 hour',
        'count(*) AS n', '{n}', '{count}', '{count(*)}', '{""}', '{bigint}', '{ts}', 'on_update', 'update', 'sync')
RETURNING id}, extra_params => [ '-U', 'mallory' ]);
like($forged, qr/^\d+$/, "cust: mallory may write a window's row naming alice's table (it is hers, nothing uses it)");
$node->safe_psql('cust', qq{CREATE TRIGGER pp_window_${forged}_insert AFTER INSERT ON mallory.t
                            FOR EACH STATEMENT EXECUTE FUNCTION mallory.f()}, extra_params => [ '-U', 'mallory' ]);
my ($ret, $out, $err) = $node->psql('cust', "SELECT pipeline._window_fix_dependencies($forged)");
like($err, qr/WARNING:  the dependencies of window aggregate "mallory.w" were not recorded/,
	'cust: nor does _window_fix_dependencies record them for a superuser');
my @with_mallory = split /\n/, sql_in('cust', $depends);
is(join("\n", grep { !/mallory/ } @with_mallory), $src_depends, "cust: alice's windows' dependencies are unchanged");
is(join("\n", grep { /mallory/ } @with_mallory), "trigger pp_window_${forged}_insert on table mallory.t -> function mallory.f() n",
	"cust: mallory's trigger depends on its function only, on nothing of alice's");
$node->safe_psql('cust', q{DROP TABLE mallory.t CASCADE}, extra_params => [ '-U', 'mallory' ]);
is(sql_in('cust', q{SELECT to_regclass('marts.views_sync') IS NOT NULL}), 't',
	"cust: mallory's DROP TABLE ... CASCADE of her table leaves alice's window table");
$node->safe_psql('cust', qq{DELETE FROM pipeline.windows WHERE id = $forged}, extra_params => [ '-U', 'mallory' ]);

for my $db (@copies)
{
	is(sql_in($db, $depends), $src_depends, "$db: the windows' dependencies are those of src");
	like(sql_error_in($db, q{ALTER TABLE raw.events RENAME COLUMN page TO pg}),
		qr/^2BP01: cannot rename column "page" of table "events": a window aggregate reads it/,
		"$db: RENAME COLUMN of a column a window reads is refused");
	like(sql_error_in($db, q{ALTER TABLE raw.events DROP COLUMN ts}), qr/^2BP01: cannot drop column ts/,
		"$db: DROP COLUMN of a column a window reads is refused");
	alice_in($db, q{DROP TABLE raw.events CASCADE});
	is(sql_in($db, q{SELECT count(*) FROM pipeline.windows}) . ' '
		  . sql_in($db, q{SELECT count(*) FROM pg_class WHERE relname LIKE 'views\_%'}), '0 0',
		"$db: DROP TABLE ... CASCADE of the source drops its windows whole");
}

sub sql_error_in
{
	my ($db, $stmt) = @_;
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\n$stmt", extra_params => [ '-U', 'alice' ]);
	return "no error (output: '$out')" if $ret == 0;
	return $err =~ /ERROR:\s+([0-9A-Z]{5}):\s+([^\n]*)/ ? "$1: $2" : "unparsed: $err";
}

$node->stop;
done_testing();
