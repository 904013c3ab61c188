# DAGs of tasks: the seed's Airflow DAG (wait_for_data >> extract >>
# transform >> load >> validate >> notify) written in SQL, with a sensor that
# holds no worker between pokes and tasks that read their run's data
# interval; a sensor's timeout; trigger rules (all_success, one_failed,
# all_done, upstream_failed, skipped) and the run's outcome with its NOTIFY;
# max_active_runs; clear() of a failed run; data-aware triggers (a run at
# most every trigger_interval after committed writes, none for rolled-back
# ones, the table's trigger dropped with the last DAG that watches it).
#
# The sections' DAGs run at once, so the file stays well under a minute.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use JSON::PP;
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $t_start = time();
my $node = pipeline_node('scheduler_dags', conf => "pg_pipeline.max_task_runs = 8\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }
# 'task:status' of a DAG's latest attempts, by task name
sub task_states
{
	my ($dag) = @_;
	return sql(qq{
SELECT string_agg(task || ':' || status, ',' ORDER BY task) FROM (
    SELECT DISTINCT ON (task) task, status FROM pipeline.task_runs
     WHERE dag = '$dag' ORDER BY task, attempt DESC) x});
}

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
});
sql_as($node, 'alice', q{
CREATE TABLE alice.raw (id int, v int);
CREATE TABLE alice.extracted (id int, v int);
CREATE TABLE alice.transformed (id int, v int);
CREATE TABLE alice.loaded (id int, v int);
-- what the tasks saw of their run's data interval
CREATE TABLE alice.log (
    dag  text,
    task text,
    ld   timestamptz DEFAULT pipeline.logical_date(),
    die  timestamptz DEFAULT pipeline.data_interval_end(),
    at   timestamptz DEFAULT clock_timestamp());
CREATE TABLE alice.never (x int);
CREATE TABLE alice.events (id serial PRIMARY KEY, v int);
});

my ($listener, $poll) = listen_json($node, 'pipeline_scheduler');

# ---- the DAGs ----------------------------------------------------------------

# The seed's DAG: daily at 6, retries 3, retry_delay 5 minutes, execution
# timeout 2 hours, max_active_runs 1, catch-up off; run by hand here (its
# start_date is tomorrow, so no scheduled run comes during the test).
my $log = sub { my ($t) = @_; "INSERT INTO alice.log (dag, task) VALUES ('seed', '$t')" };
my %seed_cmd = (
	extract   => 'INSERT INTO alice.extracted SELECT * FROM alice.raw; ' . $log->('extract'),
	transform => 'INSERT INTO alice.transformed SELECT id, v * 2 FROM alice.extracted; ' . $log->('transform'),
	load      => 'INSERT INTO alice.loaded SELECT * FROM alice.transformed; ' . $log->('load'),
	validate  => q{DO $v$ BEGIN IF (SELECT count(*) FROM alice.loaded) <> 3 THEN RAISE EXCEPTION 'validation failed'; END IF; END $v$; }
	  . $log->('validate'),
	notify    => $log->('notify'));
my @chain = qw(wait_for_data extract transform load validate notify);
my $seed_sql = q{
SELECT pipeline.create_dag('seed', '0 6 * * *', 'UTC', catchup => false, max_active_runs => 1,
                           start_date => now() + interval '1 day');
SELECT pipeline.add_task('seed', 'wait_for_data', sensor => 'SELECT count(*) > 0 FROM alice.raw',
                         poke_interval => '1 second', timeout => '60 seconds');
};
for my $i (1 .. $#chain)
{
	$seed_sql .= "SELECT pipeline.add_task('seed', '$chain[$i]', \$c\$$seed_cmd{$chain[$i]}\$c\$, upstream => '{$chain[$i - 1]}',
	                 retries => 3, retry_delay => '5 minutes', timeout => '2 hours');\n";
}
sql_as($node, 'alice', $seed_sql);

sql_as($node, 'alice', q{
-- a sensor whose condition never holds
SELECT pipeline.create_dag('never');
SELECT pipeline.add_task('never', 'wait', sensor => 'SELECT count(*) > 0 FROM alice.never',
                         poke_interval => '1 second', timeout => '3 seconds');

-- trigger rules after a failure
SELECT pipeline.create_dag('rules');
SELECT pipeline.add_task('rules', 'a', 'SELECT 1/0');
SELECT pipeline.add_task('rules', 'b', $$INSERT INTO alice.log (dag, task) VALUES ('rules', 'b')$$, upstream => '{a}');
SELECT pipeline.add_task('rules', 'c', $$INSERT INTO alice.log (dag, task) VALUES ('rules', 'c')$$, upstream => '{a}',
                         trigger_rule => 'one_failed');
SELECT pipeline.add_task('rules', 'd', $$INSERT INTO alice.log (dag, task) VALUES ('rules', 'd')$$, upstream => '{a}',
                         trigger_rule => 'all_done');
SELECT pipeline.add_task('rules', 'e', $$INSERT INTO alice.log (dag, task) VALUES ('rules', 'e')$$, upstream => '{b}');

-- and when nothing fails
SELECT pipeline.create_dag('allgood');
SELECT pipeline.add_task('allgood', 'a', $$INSERT INTO alice.log (dag, task) VALUES ('allgood', 'a')$$);
SELECT pipeline.add_task('allgood', 'alert', $$INSERT INTO alice.log (dag, task) VALUES ('allgood', 'alert')$$,
                         upstream => '{a}', trigger_rule => 'one_failed');
SELECT pipeline.add_task('allgood', 'b', $$INSERT INTO alice.log (dag, task) VALUES ('allgood', 'b')$$,
                         upstream => '{a}');

-- one run at a time
SELECT pipeline.create_dag('serial', max_active_runs => 1);
SELECT pipeline.add_task('serial', 'nap', 'SELECT pg_sleep(2)');

-- fails until its table exists
SELECT pipeline.create_dag('fixme');
SELECT pipeline.add_task('fixme', 'a', 'INSERT INTO alice.fix_target VALUES (1)');
SELECT pipeline.add_task('fixme', 'b', $$INSERT INTO alice.log (dag, task) VALUES ('fixme', 'b')$$, upstream => '{a}');

-- data-aware
SELECT pipeline.create_dag('ondata', trigger_on => '{alice.events}', trigger_interval => '2 seconds');
SELECT pipeline.add_task('ondata', 'record', $$INSERT INTO alice.log (dag, task) VALUES ('ondata', 'record')$$);
});
is(sql(q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'alice.events'::regclass AND tgname = 'pipeline_dag_data'}),
	'1', 'create_dag with trigger_on puts a trigger on the watched table');
my $t_ondata = time();

sql_as($node, 'alice', q{
SELECT pipeline.run_now('seed');
SELECT pipeline.run_now('never');
SELECT pipeline.run_now('rules');
SELECT pipeline.run_now('allgood');
SELECT pipeline.run_now('fixme');
SELECT pipeline.run_now('serial');
SELECT pipeline.run_now('serial');
SELECT pipeline.run_now('serial');
});

# ---- the seed DAG: the sensor waits without holding a worker ------------------

my (%pokes, %statuses, %pids, $held, $lingering, $settledn, $samples, $others);
$held = $lingering = $settledn = $samples = $others = 0;
my $sensor = 'SELECT count(*) > 0 FROM alice.raw';
wait_until(3.5, sub {
	# The task run first, then the runners: a runner poking after the task
	# run was seen 'scheduled' would have to have been dispatched between
	# the two reads.  "lingering": the runner of the last poke is still
	# there although that poke ended more than 0.3 s ago (its next poke is
	# due in less than 0.7 s).
	my $out = sql(qq{
SELECT tr.status || ' ' || tr.pokes || ' ' || coalesce(tr.pid, 0) || ' ' || s.settled::int || ' '
       || (s.settled AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = tr.pid))::int
  FROM pipeline.task_runs tr,
       LATERAL (SELECT coalesce(tr.status = 'scheduled'
                                AND tr.scheduled_at - clock_timestamp() < interval '0.7 s', false) AS settled) s
 WHERE tr.dag = 'seed' AND tr.task = 'wait_for_data';
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline runner' AND query = '$sensor';
SELECT count(*) FROM pipeline.task_runs WHERE dag = 'seed' AND task <> 'wait_for_data' AND status <> 'waiting';});
	my ($st, $runners, $moved) = split /\n/, $out;
	my ($status, $poke, $pid, $settled, $linger) = split / /, $st // '';
	return 0 unless defined $linger;
	$samples++;
	$statuses{$status}++;
	$pokes{$poke} = 1;
	$pids{$pid} = 1 if $pid;
	$held++ if $status eq 'scheduled' && $runners > 0;
	$lingering += $linger;
	$settledn += $settled;
	$others++ if $moved > 0;
	return 0;
});
my @pokes = sort { $a <=> $b } keys %pokes;
note("sensor: $samples samples, statuses " . join(',', map { "$_=$statuses{$_}" } sort keys %statuses)
	  . '; pokes seen ' . join(',', @pokes) . '; ' . scalar(keys %pids) . ' runner pids');
ok(($statuses{scheduled} // 0) > 0, "the sensor waits in status 'scheduled' between pokes");
cmp_ok($pokes[-1] // 0, '>=', 3, 'the sensor poked at least 3 times in 3.5 s (poke_interval 1 s)');
cmp_ok($pokes[-1] // 0, '<=', 5, 'and not much more often than every second');
ok((join(',', @pokes) eq join(',', $pokes[0] .. $pokes[-1])), 'pokes increment one at a time: ' . join(',', @pokes));
cmp_ok(scalar(keys %pids), '>=', 2, 'each poke is a new runner (pids differ)');
is($held, 0, 'no runner runs the sensor while it is scheduled');
cmp_ok($settledn, '>', 5, "samples taken more than 0.3 s after a poke ended ($settledn)");
is($lingering, 0, 'in none of them was the runner of that poke still there (no worker held between pokes)');
is($others, 0, 'nothing downstream of the sensor starts while it waits');

my $t_ins = sql(q{INSERT INTO alice.raw VALUES (1, 10), (2, 20), (3, 30); SELECT clock_timestamp()});
wait_for_sql($node, 10, q{SELECT status = 'success' FROM pipeline.dag_runs WHERE dag = 'seed'}, 't',
	'data arrives: the seed DAG run succeeds');
my $sensor_after = sql(qq{SELECT round(extract(epoch FROM ended_at - '$t_ins'::timestamptz), 2) || ' ' || pokes
                           FROM pipeline.task_runs WHERE dag = 'seed' AND task = 'wait_for_data'});
my ($sensor_delay, $sensor_pokes) = split / /, $sensor_after;
note("the sensor succeeded $sensor_delay s after the insert, after $sensor_pokes pokes");
cmp_ok($sensor_delay, '<', 1.5, 'the sensor succeeds at its next poke (within poke_interval)');
is(task_states('seed'), 'extract:success,load:success,notify:success,transform:success,validate:success,wait_for_data:success',
	'every task of the seed DAG succeeded');
is(sql(q{SELECT count(*) FROM pipeline.task_runs WHERE dag = 'seed' AND attempt > 1}), '0', 'in one attempt each');
is(sql(q{
SELECT string_agg(t.name, ',' ORDER BY t.name) FROM pipeline.tasks t
  JOIN pipeline.task_runs c ON c.dag_id = t.dag_id AND c.task = t.name
  JOIN pipeline.task_runs u ON u.run_id = c.run_id AND u.task = ANY (t.upstream)
 WHERE t.dag_id = (SELECT dag_id FROM pipeline.dags WHERE name = 'seed')
   AND c.started_at >= u.ended_at}),
	'extract,load,notify,transform,validate', 'each task started after its upstream task ended');
is(sql(q{SELECT string_agg(task, ',' ORDER BY at) FROM alice.log WHERE dag = 'seed'}),
	'extract,transform,load,validate,notify', 'the tasks ran in the chain\'s order');
is(sql(q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM alice.loaded}), '1:20,2:40,3:60',
	'the data went through extract, transform and load');
is(sql(q{
SELECT count(*) || ' ' || count(*) FILTER (WHERE l.ld = r.logical_date AND l.die = r.data_interval_end
                                            AND l.ld IS NOT NULL)
  FROM alice.log l, pipeline.dag_runs r WHERE l.dag = 'seed' AND r.dag = 'seed'}), '5 5',
	'pipeline.logical_date() and data_interval_end() in each task equal the run\'s');
is(sql(q{
SELECT data_interval_end - logical_date = interval '1 day'
       AND (data_interval_end AT TIME ZONE 'UTC')::time = '06:00'
       AND data_interval_end <= created_at AND data_interval_end > created_at - interval '1 day'
  FROM pipeline.dag_runs WHERE dag = 'seed'}), 't',
	'run_now of the daily DAG covers the latest complete day, 06:00 to 06:00 UTC');

# ---- a sensor that times out -------------------------------------------------------

wait_for_sql($node, 10, q{SELECT status = 'failed' FROM pipeline.dag_runs WHERE dag = 'never'}, 't',
	'a sensor whose condition never holds fails the run');
my ($nv_err, $nv_state, $nv_pokes, $nv_secs, $nv_attempts) = split /\|/, sql(q{
SELECT error, sqlstate, pokes, extract(epoch FROM ended_at - started_at),
       (SELECT count(*) FROM pipeline.task_runs WHERE dag = 'never')
  FROM pipeline.task_runs WHERE dag = 'never'});
note("sensor timeout: $nv_err after $nv_secs s");
like($nv_err, qr/^sensor timed out/, 'the error says the sensor timed out');
is($nv_state, '57014', 'sqlstate 57014');
cmp_ok($nv_secs, '>=', 3, 'not before its 3 s timeout');
cmp_ok($nv_secs, '<', 4.5, 'at the first poke after its timeout');
ok($nv_pokes >= 3 && $nv_pokes <= 5, "poked every second until then ($nv_pokes pokes)");
is($nv_attempts, '1', 'one attempt (no retries)');

# ---- trigger rules -------------------------------------------------------------

wait_for_sql($node, 5, q{SELECT status IN ('success', 'failed') FROM pipeline.dag_runs WHERE dag = 'rules'}, 't',
	'the rules DAG run finished');
is(task_states('rules'), 'a:failed,b:upstream_failed,c:success,d:success,e:upstream_failed',
	'a failed: b (all_success) and e (after b) upstream_failed, c (one_failed) and d (all_done) ran');
is(sql(q{SELECT string_agg(task, ',' ORDER BY task) FROM alice.log WHERE dag = 'rules'}), 'c,d',
	'only c and d ran their commands');
is(sql(q{SELECT count(*) FROM pipeline.task_runs WHERE dag = 'rules' AND task IN ('b', 'e') AND started_at IS NOT NULL}),
	'0', 'upstream_failed tasks never started');
is(sql(q{SELECT status FROM pipeline.dag_runs WHERE dag = 'rules'}), 'failed', 'the run ends failed');
wait_for_sql($node, 5, q{SELECT status = 'success' FROM pipeline.dag_runs WHERE dag = 'allgood'}, 't',
	'a DAG whose tasks all succeed ends success');
is(task_states('allgood'), 'a:success,alert:skipped,b:success', 'its one_failed task is skipped');
is(sql(q{SELECT string_agg(task, ',' ORDER BY task) FROM alice.log WHERE dag = 'allgood'}), 'a,b',
	'the skipped task did not run');

# ---- clear() -------------------------------------------------------------------

wait_for_sql($node, 5, q{SELECT status = 'failed' FROM pipeline.dag_runs WHERE dag = 'fixme'}, 't',
	'fixme fails while its table is missing');
is(sql(q{SELECT string_agg(task || ':' || status || ':' || coalesce(sqlstate, '-'), ',' ORDER BY task)
           FROM pipeline.task_runs WHERE dag = 'fixme'}),
	'a:failed:42P01,b:upstream_failed:-', 'a failed (undefined table), b upstream_failed');
sql_as($node, 'alice', 'CREATE TABLE alice.fix_target (x int)');
is(sql_as($node, 'alice', q{SELECT pipeline.clear('fixme')}), '2', 'clear() re-runs the 2 failed and upstream_failed tasks');
wait_for_sql($node, 5, q{SELECT status = 'success' FROM pipeline.dag_runs WHERE dag = 'fixme'}, 't',
	'after clear() the run ends success');
is(sql(q{SELECT string_agg(task || ':' || attempt || ':' || retry || ':' || status, ',' ORDER BY task, attempt)
           FROM pipeline.task_runs WHERE dag = 'fixme'}),
	'a:1:0:failed,a:2:0:success,b:1:0:upstream_failed,b:2:0:success', 'as new attempts of the same tasks');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT run_id) FROM pipeline.dag_runs WHERE dag = 'fixme'}), '1 1',
	'in the same run');
is(sql(q{SELECT (SELECT count(*) FROM alice.fix_target) || ' ' || (SELECT count(*) FROM alice.log WHERE dag = 'fixme')}),
	'1 1', 'both tasks did their work');

# ---- max_active_runs -------------------------------------------------------------

wait_for_sql($node, 12, q{SELECT count(*) FILTER (WHERE status = 'success') = 3 FROM pipeline.dag_runs WHERE dag = 'serial'}, 't',
	'max_active_runs = 1: the 3 runs all succeed');
my $serial = sql(q{
SELECT string_agg(round(extract(epoch FROM started_at - prev_end), 2)::text, ',' ORDER BY started_at) FROM (
    SELECT started_at, lag(ended_at) OVER (ORDER BY started_at) AS prev_end
      FROM pipeline.dag_runs WHERE dag = 'serial') x WHERE prev_end IS NOT NULL});
note("max_active_runs: each run started this long after the previous ended: $serial s");
my @sg = split /,/, $serial;
is(scalar(@sg), 2, 'three runs, two gaps');
is(scalar(grep { $_ < 0 } @sg), 0, 'the runs do not overlap');
is(sql(q{
SELECT count(*) FROM pipeline.task_runs a JOIN pipeline.task_runs b
    ON a.dag = 'serial' AND b.dag = 'serial' AND a.task_run_id < b.task_run_id
   AND a.started_at < b.ended_at AND b.started_at < a.ended_at}), '0', 'nor do their tasks');
cmp_ok(sql(q{SELECT extract(epoch FROM max(ended_at) - min(started_at)) FROM pipeline.dag_runs WHERE dag = 'serial'}),
	'>=', 6, 'three 2-second runs in a row take at least 6 s');

# ---- NOTIFY ----------------------------------------------------------------------

my @notes = map { $_->{payload} } $poll->();
my @fin = grep { ($_->{event} // '') eq 'dag_run_finished' } @notes;
my %fin;
push @{ $fin{ $_->{dag} } }, $_->{status} for @fin;
is(join(',', map { "$_:" . join('+', @{ $fin{$_} // [] }) } qw(rules allgood never fixme seed serial)),
	'rules:failed,allgood:success,never:failed,fixme:failed+success,seed:success,serial:success+success+success',
	'NOTIFY dag_run_finished with each run\'s status');
my ($rules_a) = grep { ($_->{event} // '') eq 'task_failed' && ($_->{dag} // '') eq 'rules' } @notes;
is(($rules_a->{task} // '') . ':' . ($rules_a->{will_retry} ? 'retry' : 'final') . ':' . ($rules_a->{sqlstate} // ''),
	'a:final:22012', 'NOTIFY task_failed for the failed task, with its SQLSTATE');
$listener->quit;

# ---- data-aware trigger ------------------------------------------------------------

# nothing written to alice.events yet
cmp_ok(time() - $t_ondata, '>', 2.5, 'the data-aware DAG has waited more than its trigger_interval');
is(sql(q{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'ondata'}), '0', 'no run while nothing is written');

# the runs of ondata: 'created data_interval_end logical_date' in epoch seconds
sub data_runs
{
	return map { [ split / / ] } split /\n/, sql(q{
SELECT extract(epoch FROM created_at) || ' ' || extract(epoch FROM data_interval_end) || ' '
       || extract(epoch FROM logical_date) || ' ' || run_type || ' ' || status
  FROM pipeline.dag_runs WHERE dag = 'ondata' ORDER BY created_at});
}
sub now_epoch { return sql('SELECT extract(epoch FROM clock_timestamp())'); }

# (the time before the INSERT: the coordinator may act before a later read)
my $w1 = sql(q{SELECT extract(epoch FROM clock_timestamp()); INSERT INTO alice.events (v) VALUES (1)});
wait_for_sql($node, 3, q{SELECT count(*) = 1 FROM pipeline.dag_runs WHERE dag = 'ondata'}, 't', 'an INSERT triggers a run');
my @r = data_runs();
my $lat1 = $r[0][0] - $w1;
note(sprintf('data trigger: run queued %.3f s after the INSERT began', $lat1));
cmp_ok($lat1, '<', 1, 'within 1 s of the write');
is($r[0][3], 'data', "the run's type is 'data'");
wait_for_sql($node, 5, q{SELECT status = 'success' FROM pipeline.dag_runs WHERE dag = 'ondata'}, 't', 'and succeeds');
is(sql(q{
SELECT l.ld = r.logical_date AND l.die = r.data_interval_end AND r.logical_date = d.created_at
  FROM alice.log l, pipeline.dag_runs r, pipeline.dags d
 WHERE l.dag = 'ondata' AND r.dag = 'ondata' AND d.name = 'ondata'}), 't',
	'its data interval runs from the DAG\'s creation to the trigger, as its task saw it');
cmp_ok($r[0][1], '>=', $w1, 'the interval ends after the write');

# a burst: 12 committed inserts over 3 s
my $burst_start = now_epoch();
for my $i (1 .. 12)
{
	sql("INSERT INTO alice.events (v) VALUES ($i)");
	usleep(250_000);
}
my $burst_end = now_epoch();
ok(defined wait_until(5, sub {
	my @x = data_runs();
	$x[-1][1] >= $burst_end && $x[-1][4] eq 'success' }),
	'the last write of the burst is covered by a run');
@r = data_runs();
my @burst = grep { $_->[0] > $burst_start } @r;
note(sprintf('burst of 12 inserts over %.1f s: %d runs', $burst_end - $burst_start, scalar @burst));
# one run per started trigger_interval of the burst, plus one for its tail
my $most = int(($burst_end - $burst_start) / 2) + 2;
ok(@burst >= 2 && @burst <= $most, "the burst made 2 to $most runs, not 12 (got " . scalar(@burst) . ')');
my @gap = map { $r[$_][0] - $r[$_ - 1][0] } 1 .. $#r;
is(scalar(grep { $_ < 1.99 } @gap), 0,
	'data runs are at least trigger_interval (2 s) apart: ' . join(',', map { sprintf('%.2f', $_) } @gap));
is(scalar(grep { $r[$_][2] != $r[$_ - 1][1] } 1 .. $#r), 0,
	'each data run\'s interval starts where the previous ended');
is(sql(q{SELECT count(*) FROM alice.log l WHERE dag = 'ondata'
          AND NOT EXISTS (SELECT 1 FROM pipeline.dag_runs r
                           WHERE r.dag = 'ondata' AND r.logical_date = l.ld AND r.data_interval_end = l.die)}), '0',
	'every task saw its run\'s interval');

# an UPDATE counts, once the interval has passed
sleep(2);
my $n_runs = scalar(data_runs());
my $u = sql(q{SELECT extract(epoch FROM clock_timestamp()); UPDATE alice.events SET v = v + 1 WHERE id = 1});
ok(defined wait_until(3, sub { scalar(data_runs()) == $n_runs + 1 }), 'an UPDATE triggers a run');
@r = data_runs();
cmp_ok($r[-1][0] - $u, '<', 1, 'within 1 s');
wait_for_sql($node, 5, q{SELECT bool_and(status = 'success') FROM pipeline.dag_runs WHERE dag = 'ondata'}, 't',
	'it succeeds');

# rolled-back writes do not
sleep(2);
$n_runs = scalar(data_runs());
sql(q{BEGIN; INSERT INTO alice.events (v) VALUES (-1); UPDATE alice.events SET v = 0; ROLLBACK;});
sleep(2.5);
is(scalar(data_runs()), $n_runs, 'writes that roll back trigger nothing');

# the trigger goes with the last DAG that watches the table, whoever owns it
sql_as($node, 'alice', q{SELECT pipeline.create_dag('ondata2', trigger_on => '{alice.events}')});
sql(q{SELECT pipeline.create_dag('ondata_admin', trigger_on => '{alice.events}')});
my $trig = q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'alice.events'::regclass AND tgname = 'pipeline_dag_data'};
is(sql($trig), '1', 'three DAGs watching a table share one trigger');
sql_as($node, 'alice', q{SELECT pipeline.drop_dag('ondata')});
is(sql($trig), '1', 'drop_dag keeps the trigger while another DAG of the owner watches the table');
sql_as($node, 'alice', q{SELECT pipeline.drop_dag('ondata2')});
is(sql($trig), '1', 'drop_dag keeps the trigger while a DAG of another role watches the table');
sql(q{SELECT pipeline.drop_dag('ondata_admin')});
is(sql($trig), '0', 'drop_dag of the last DAG watching the table drops the trigger');

unlike(slurp_file($node->logfile), qr/PANIC|TRAP|server process .* was terminated by signal/,
	'no crash in the server log');
$node->stop;
note(sprintf('total %.1f s', time() - $t_start));
done_testing();
