# Attacks on the workers by roles that are not superusers (issue 10,
# docs/security.md), each run against a real preloaded server and the test
# broker:
#   - a role that may not drop a database tries DROP DATABASE and RENAME:
#     the database's workers must not stop;
#   - the database's owner (not a superuser) sets the database's
#     search_path to a schema of its own with exact-signature operators and
#     functions; a DAG owner does the same with ALTER ROLE: the coordinator,
#     the maintainer, the consumer and the runner's bookkeeping (which runs
#     as the superuser) must never call them;
#   - a consumer's writes reach the statistics (autovacuum and autoanalyze
#     see Kafka-loaded tables) and its timestamps move with time.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('security_workers');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(ev:2));

my $node = pipeline_node('security_workers', conf => 'max_prepared_transactions = 4');
$node->start;

# The test's own queries name their objects in a path it chooses: the
# database's default path is a trap here.
sub sql { my ($db, $q) = @_; return $node->safe_psql($db, "SET search_path = pg_catalog, public;\n$q"); }

########################################################################
# DROP DATABASE / RENAME by a role that may not: nothing stops.
########################################################################
sql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE ROLE dbo LOGIN CREATEDB;
CREATE ROLE alice LOGIN;
CREATE DATABASE victim OWNER dbo;
});
sql('victim', 'CREATE EXTENSION pg_pipeline');
ok(defined wait_until(10, sub { coordinator_pid($node, 'victim') ne '' }),
	'the coordinator of victim runs');
my $pid = coordinator_pid($node, 'victim');

for my $stmt ('DROP DATABASE victim', 'ALTER DATABASE victim RENAME TO gone',
	'ALTER DATABASE victim SET TABLESPACE pg_default',
	'CREATE DATABASE copycat TEMPLATE victim')
{
	my ($ret, $out, $err) = $node->psql('postgres', $stmt,
		extra_params => [ '-U', 'mallory' ]);
	isnt($ret, 0, "mallory: $stmt is refused");
	like($err, qr/must be owner|permission denied/, "mallory: $stmt gives PostgreSQL's own error");
}
sleep 1;
is(coordinator_pid($node, 'victim'), $pid,
	'the coordinator of victim was never stopped by those attempts');
is(sql('victim', "SELECT restarts FROM pipeline.workers WHERE kind = 'coordinator'"), '0',
	'and never restarted');

########################################################################
# Traps in the search_path of the database (set by its owner) and of a
# DAG's owner.  A trap notes the role it ran as; a worker may only ever
# call one as the trap's own author (never as the superuser, never as
# another role).
########################################################################
sql('victim', q{
CREATE TABLE public.sprung (as_role name, what text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT, SELECT ON public.sprung TO PUBLIC;
GRANT CREATE ON DATABASE victim TO alice;
});
for my $who ('dbo', 'alice')
{
	sql('victim', qq{
SET ROLE $who;
CREATE SCHEMA ${who}_s;
CREATE FUNCTION ${who}_s.trap(text) RETURNS void LANGUAGE sql AS
  \$\$ INSERT INTO public.sprung (as_role, what) VALUES (current_user, \$1) \$\$;
CREATE FUNCTION ${who}_s.eq4(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM ${who}_s.trap('int4 ='); RETURN \$1 OPERATOR(pg_catalog.=) \$2; END \$\$;
CREATE OPERATOR ${who}_s.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = ${who}_s.eq4);
CREATE FUNCTION ${who}_s.eq8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM ${who}_s.trap('int8 ='); RETURN \$1 OPERATOR(pg_catalog.=) \$2; END \$\$;
CREATE OPERATOR ${who}_s.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = ${who}_s.eq8);
CREATE FUNCTION ${who}_s.eqt(text, text) RETURNS boolean LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM ${who}_s.trap('text ='); RETURN \$1 OPERATOR(pg_catalog.=) \$2; END \$\$;
CREATE OPERATOR ${who}_s.= (LEFTARG = text, RIGHTARG = text, FUNCTION = ${who}_s.eqt);
CREATE FUNCTION ${who}_s.now() RETURNS timestamptz LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM ${who}_s.trap('now'); RETURN pg_catalog.now(); END \$\$;
GRANT USAGE ON SCHEMA ${who}_s TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${who}_s TO PUBLIC;
});
}
sql('victim', q{
ALTER DATABASE victim SET search_path = dbo_s, pg_catalog, public;
ALTER ROLE alice SET search_path = alice_s, pg_catalog, public;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '} . $addr . q{', "fetch.wait.max.ms" '10');
GRANT USAGE ON FOREIGN SERVER kafka TO alice;
});
# the coordinator connected before the database's path was set: restart it
sql('postgres', "SELECT pg_terminate_backend($pid)");
ok(defined wait_until(20, sub { my $p = coordinator_pid($node, 'victim'); $p ne '' && $p ne $pid }),
	'the coordinator came back with the database owner\'s search_path');

# Alice: a source, an async window over its table, and a job.
sql('victim', q{
SET ROLE alice;
CREATE TABLE alice_s.ev (k text, v int, t timestamptz DEFAULT now());
SELECT pipeline.create_source('ev', server => 'kafka', topic => 'ev', target => 'alice_s.ev',
    format => 'json', properties => '{"fetch.wait.max.ms": "10"}');
SELECT pipeline.create_window('alice_s.ev_w', 'alice_s.ev', 't', pipeline.tumble('1 minute'),
    'count(*) AS n, sum(v) AS s', group_by => '{k}', mode => 'async');
SELECT pipeline.schedule('alice_job', '1 day', 'SELECT count(*) FROM alice_s.ev');
});

# Mallory holds every advisory lock key pg_pipeline used on 0.4.0: the
# scheduler's (a pass only tries it), and for the window the drain's and
# its groups'.  None of them may freeze the scheduler or the maintainer.
my $wid = sql('victim', "SELECT id FROM pipeline.windows WHERE name = 'alice_s.ev_w'");
my $mallory = $node->background_psql('victim', on_error_stop => 1,
	extra_params => [ '-U', 'mallory' ]);
$mallory->query_safe("SELECT pg_advisory_lock(1347438928, 5), pg_advisory_lock(1886410569, $wid),
                             pg_advisory_lock($wid, 0)");

# 3,000 rows from Kafka, in two batches some seconds apart
my @batch_at;
for my $batch (1, 2)
{
	kcat_produce($addr, 'ev', [ map { qq({"k": "k$_", "v": $_}) } 1 .. 1500 ]);
	ok(defined wait_until(30, sub { sql('victim', 'SELECT count(*) FROM alice_s.ev') == 1500 * $batch }),
		"batch $batch loaded")
	  or diag(sql('victim', q{SELECT kind, works_on, state, last_error FROM pipeline.workers;
	                           SELECT * FROM pipeline.source_status}));
	push @batch_at, sql('victim', q{SELECT max(extract(epoch FROM last_batch_at))
	                                  FROM pipeline.source_partitions WHERE source = 'ev'});
	sleep 2 if $batch == 1;
}
sql('victim', q{SET ROLE alice; SELECT pipeline.run_now('alice_job')});
ok(defined wait_until(30, sub {
	sql('victim', "SELECT status FROM pipeline.task_runs WHERE dag = 'alice_job' ORDER BY task_run_id DESC LIMIT 1")
	  eq 'success' }), 'the job ran as alice');
ok(defined wait_until(30, sub {
	sql('victim', 'SELECT coalesce(sum(n), 0) FROM alice_s.ev_w') == 3000 }),
	'the maintainer merged every row into the async window');

$mallory->quit;

is(sql('victim', q{SELECT coalesce(string_agg(DISTINCT as_role || ': ' || what, ', '), 'none')
                     FROM public.sprung WHERE as_role NOT IN ('alice', 'dbo')}),
	'none', 'no trap ran as the superuser or as another role');
is(sql('victim', q{SELECT coalesce(string_agg(DISTINCT as_role || ': ' || what, ', '), 'none')
                     FROM public.sprung}),
	'none', 'no worker resolved a name in a search_path a role set');

########################################################################
# A data-aware DAG is triggered by a two-phase commit: when COMMIT
# PREPARED commits the rows (in another session), not at PREPARE.
########################################################################
sql('victim', q{
SET ROLE alice;
CREATE TABLE alice_s.orders (id int);
SELECT pipeline.create_dag('on_orders', trigger_on => '{alice_s.orders}');
SELECT pipeline.add_task('on_orders', 'count', 'SELECT count(*) FROM alice_s.orders');
});
my $data_runs = sub {
	sql('victim', "SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'on_orders'") };
sql('victim', q{SET ROLE alice; BEGIN; INSERT INTO alice_s.orders VALUES (1); PREPARE TRANSACTION 'pp_2pc_1'});
sleep 2;
is($data_runs->(), '0', 'a prepared transaction triggers nothing yet');
sql('victim', q{COMMIT PREPARED 'pp_2pc_1'});
ok(defined wait_until(20, sub { $data_runs->() eq '1' }),
	'COMMIT PREPARED (in another session) triggers the data-aware DAG');
sql('victim', q{SET ROLE alice; BEGIN; INSERT INTO alice_s.orders VALUES (2); PREPARE TRANSACTION 'pp_2pc_2'});
sql('victim', q{ROLLBACK PREPARED 'pp_2pc_2'});
sleep 2;
is($data_runs->(), '1', 'ROLLBACK PREPARED triggers nothing');

########################################################################
# Statistics and timestamps of what the consumer wrote.
########################################################################
ok(defined wait_until(20, sub {
	sql('victim', "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'alice_s.ev'::regclass") >= 3000 }),
	'pg_stat_user_tables counts the rows the consumer inserted (autovacuum sees them)');
cmp_ok($batch_at[1] - $batch_at[0], '>=', 1.5,
	'last_batch_at follows the batches, not the worker\'s start');
is(sql('victim', q{SELECT count(DISTINCT t) > 1 FROM alice_s.ev}), 't',
	'now() in the target\'s defaults moves from batch to batch');

########################################################################
# The target by OID: renamed, it keeps receiving the rows; a table created
# later under its old name receives none.
########################################################################
sql('victim', q{
SET ROLE alice;
ALTER TABLE alice_s.ev RENAME TO ev_renamed;
CREATE TABLE alice_s.ev (k text, v int, t timestamptz DEFAULT now());
});
kcat_produce($addr, 'ev', [ map { qq({"k": "late$_", "v": $_}) } 1 .. 100 ]);
ok(defined wait_until(30, sub { sql('victim', 'SELECT count(*) FROM alice_s.ev_renamed') == 3100 }),
	'a renamed target keeps receiving the source\'s rows');
is(sql('victim', 'SELECT count(*) FROM alice_s.ev'), '0',
	'a table created under the target\'s old name receives none');

done_testing();
