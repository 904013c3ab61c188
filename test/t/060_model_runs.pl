# Model runs in model runner workers (pipeline.start_run): a wide graph
# built by 2 workers at once (two models overlap in time), the workers in
# pipeline.workers as the role that started the run; a failure skips only
# its dependents and is NOTIFYed with its SQLSTATE; cancel_run; and
# pipeline.build('tag:daily') as a scheduler task.
#
# The graph is written straight into pipeline.models and
# pipeline.model_edges, and each model's SQL sleeps a second, so the
# overlap is visible in pipeline.model_runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = pipeline_node('model_runs', conf => "pg_pipeline.model_workers = 2\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub alice { return sql_as($node, 'alice', $_[0]); }

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
});


# alice's wide graph: root -> w1..w4 -> tip, and w1 -> side
alice(q{
CREATE FUNCTION alice.model(name text, sql text, tags text[] DEFAULT '{}')
RETURNS integer LANGUAGE sql AS $$
    INSERT INTO pipeline.models (name, schema_name, relation_name, sql, materialized, tags, search_path)
    VALUES (name, 'alice', split_part(name, '.', 2), sql, 'table', tags, '"alice"')
    RETURNING model_id
$$;
CREATE FUNCTION alice.edge(model text, upstream text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO pipeline.model_edges (model_id, upstream_oid, upstream_name, upstream_model_id)
    SELECT m.model_id, 0, u.name, u.model_id
      FROM pipeline.models m, pipeline.models u WHERE m.name = model AND u.name = upstream
$$;
SELECT alice.model('alice.root', 'SELECT 1 AS x', '{daily}');
SELECT alice.model('alice.w' || i, 'SELECT ' || i || ' AS x FROM pg_sleep(1)', '{daily}')
  FROM generate_series(1, 4) i;
SELECT alice.model('alice.tip', 'SELECT 5 AS x', '{daily}');
SELECT alice.model('alice.side', 'SELECT 6 AS x');
SELECT alice.edge('alice.w' || i, 'alice.root'), alice.edge('alice.tip', 'alice.w' || i)
  FROM generate_series(1, 4) i;
SELECT alice.edge('alice.side', 'alice.w1');
});

# the models of an invocation: 'model:status' in dependency order
sub outcome
{
	my ($id) = @_;
	return sql(qq{SELECT string_agg(split_part(model, '.', 2) || ':' || status, ' ' ORDER BY position)
	                FROM pipeline.model_runs WHERE invocation_id = $id});
}
sub wait_done
{
	my ($id, $timeout) = @_;
	return wait_until($timeout // 60, sub {
		sql("SELECT status FROM pipeline.model_invocations WHERE invocation_id = $id") ne 'running' });
}

my ($listener, $poll) = listen_json($node, 'pipeline_models');

# ---- 1. two workers build the wide graph, w1..w4 two at a time -------------
my $t0 = time();
my $id = alice(q{SELECT pipeline.start_run('+tip side')});
my $saw_workers = '';
wait_until(30, sub {
	$saw_workers = sql(q{SELECT count(*) || ' ' || string_agg(DISTINCT w.works_on, ',') || ' '
	                             || bool_and(w.role = 'alice')
	                       FROM pipeline.workers w
	                      WHERE w.kind = 'model runner' AND w.state = 'running'});
	$saw_workers =~ /^2 /;
});
is($saw_workers, "2 model run $id true", 'two model runners, as alice, in pipeline.workers');
ok(wait_done($id), 'the invocation ended');
my $elapsed = time() - $t0;
is(sql("SELECT status FROM pipeline.model_invocations WHERE invocation_id = $id"), 'success',
	'it succeeded');
is(outcome($id), 'root:success w1:success w2:success w3:success w4:success side:success tip:success',
	'every model built, in dependency order');
is(alice('SELECT (SELECT x FROM alice.tip) + (SELECT x FROM alice.side)'), '11', 'the models\' tables are there');
# w1..w4 sleep a second each: two at once, never more
is(sql(qq{SELECT count(*) FROM pipeline.model_runs a JOIN pipeline.model_runs b
            ON a.invocation_id = b.invocation_id AND a.model_run_id < b.model_run_id
           WHERE a.invocation_id = $id AND a.model LIKE 'alice.w%' AND b.model LIKE 'alice.w%'
             AND a.started_at < b.ended_at AND b.started_at < a.ended_at}) >= 2 ? 'overlap' : 'none',
	'overlap', 'models of independent branches overlap in time');
is(sql(qq{SELECT max(n) FROM (
            SELECT (SELECT count(*) FROM pipeline.model_runs b
                     WHERE b.invocation_id = a.invocation_id
                       AND b.started_at <= a.started_at AND b.ended_at > a.started_at) AS n
              FROM pipeline.model_runs a WHERE a.invocation_id = $id) x}), '2',
	'never more than 2 at once (pg_pipeline.model_workers)');
is(sql(qq{SELECT count(*) FROM pipeline.model_runs r JOIN pipeline.model_runs u
            ON u.invocation_id = r.invocation_id AND u.model_id = ANY (r.upstream)
           WHERE r.invocation_id = $id AND r.started_at < u.ended_at}), '0',
	'no model started before what it reads was built');
note(sprintf('wide graph with 2 workers: %.1f s (4 models of 1 s)', $elapsed));
ok(defined wait_until(30, sub { worker_pids($node, 'model runner') eq '' }),
	'the runners exit when the invocation is over');

# ---- 2. a failure skips its dependents only; NOTIFY carries the SQLSTATE ------
alice(q{UPDATE pipeline.models SET sql = 'SELECT 1/0 AS x FROM pg_sleep(0.2)' WHERE name = 'alice.w2'});
$poll->();
$id = alice(q{SELECT pipeline.start_run('+tip side', workers => 2)});
ok(wait_done($id), 'the failing invocation ended');
is(outcome($id), 'root:success w1:success w2:error w3:success w4:success side:success tip:skipped',
	'w2 failed, tip is skipped, the rest built');
is(sql(qq{SELECT sqlstate || ' ' || error || ' | ' || (SELECT error FROM pipeline.model_runs
                                                       WHERE invocation_id = $id AND model = 'alice.tip')
            FROM pipeline.model_runs WHERE invocation_id = $id AND model = 'alice.w2'}),
	'22012 division by zero | upstream model "alice.w2" did not build', 'the error and why tip skipped');
is(sql("SELECT status FROM pipeline.model_invocations WHERE invocation_id = $id"), 'error',
	'the invocation failed');
my @notes;
wait_until(10, sub { push @notes, $poll->(); @notes > 0 });
is(join(',', map { "$_->{payload}{event} $_->{payload}{model} $_->{payload}{sqlstate} "
	  . (exists $_->{payload}{error} ? 'with text' : 'no text') } @notes),
	'model_failed alice.w2 22012 no text', 'one NOTIFY, with the SQLSTATE and no error text');
like(slurp_file($node->logfile), qr/ERROR:  division by zero\n(?:.*\n){0,8}?.*while building model "alice\.w2" in a model runner/,
	'the server log has the error, naming the model');
is(sql(q{SELECT last_status FROM pipeline.model_status WHERE model = 'alice.w2'}), 'error',
	'model_status shows the failure');

# ---- 3. cancel: pending models are skipped, the one being built finishes ------
alice(q{UPDATE pipeline.models SET sql = 'SELECT 2 AS x FROM pg_sleep(1)' WHERE name = 'alice.w2'});
$id = alice(q{SELECT pipeline.start_run('+tip', workers => 1)});
wait_until(30, sub {
	sql("SELECT count(*) FROM pipeline.model_runs WHERE invocation_id = $id AND model LIKE 'alice.w%' AND status = 'running'") eq '1' });
alice("SELECT pipeline.cancel_run($id)");
ok(wait_until(30, sub {
	sql("SELECT count(*) FROM pipeline.model_runs WHERE invocation_id = $id AND status IN ('pending', 'running')") eq '0' }),
	'nothing left to build after cancel_run');
is(sql("SELECT status FROM pipeline.model_invocations WHERE invocation_id = $id"), 'canceled', 'canceled');
is(sql(qq{SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM pipeline.model_runs
           WHERE invocation_id = $id AND model LIKE 'alice.w%'}), 'skipped,success',
	'the model being built finished, the rest was skipped');
is(outcome($id) =~ /tip:skipped/ ? 1 : 0, 1, 'tip skipped');

# ---- 4. pipeline.build('tag:daily') as a scheduler task --------------------------
alice(q{
SELECT pipeline.create_dag('daily_models', '0 6 * * *', 'UTC', catchup => false,
                           start_date => now() + interval '1 day');
SELECT pipeline.add_task('daily_models', 'build', $$SELECT pipeline.build('tag:daily')$$);
SELECT pipeline.run_now('daily_models');
});
wait_for_sql($node, 60,
	q{SELECT status FROM pipeline.task_runs WHERE dag = 'daily_models' AND task = 'build'},
	'success', 'the DAG task building tag:daily succeeded');
is(sql(q{SELECT i.command || ' ' || i.in_session || ' ' || i.owner || ' ' || i.status || ' '
               || (SELECT count(*) FROM pipeline.model_runs r WHERE r.invocation_id = i.invocation_id)
           FROM pipeline.model_invocations i ORDER BY invocation_id DESC LIMIT 1}),
	'build true alice success 6', 'the task built the six daily models in its session, as alice');

$listener->quit;
$node->stop;
done_testing();
