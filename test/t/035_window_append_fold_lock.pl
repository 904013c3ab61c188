# Mode append: a fold and a writer's update or delete of the same group
# never deadlock.
#
# A writer's DELETE (or UPDATE) recomputes its groups: it locks their state
# rows, then deletes the partials of those groups that it counted.  A fold
# deletes the pending partials first, then writes the state rows.  Taken in
# these opposite orders the locks deadlocked: a transaction deleted rows of
# group k (holding k's state row), a writer appended a partial of k, a fold
# took that partial and waited for k's state row, and the transaction's
# next DELETE in k waited for the partial: "deadlock detected", and one of
# the two statements failed.  Now a writer's update or delete holds the
# fold's lock in share mode to its commit, and a fold waits for it (the
# maintainer does not wait: it folds at a later pass).
#
# The maintainer is kept out (pg_pipeline.enabled = off), so the fold here
# is flush_window()'s, and the interleaving is exactly the one above.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('append_fold_lock', conf => "pg_pipeline.enabled = off\ndeadlock_timeout = '100ms'\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE TABLE ev (event_time timestamptz NOT NULL, page text, n int);
CREATE INDEX ON ev (event_time);
SELECT pipeline.create_window('w', 'ev', 'event_time', pipeline.tumble('5 minutes'),
	'count(*) AS c, sum(n) AS s, count(DISTINCT n) AS d', group_by => '{page}', mode => 'append');
INSERT INTO ev SELECT '2026-12-07 10:00'::timestamptz + i * interval '1 second', p, i
  FROM generate_series(1, 20) i, unnest(ARRAY['k', 'j']) p;
SELECT pipeline.flush_window('w');
});
is(sql('SELECT count(*) FROM w_partials'), '0', 'folded before the race');

# 1. a transaction deletes rows of group k: k's state row is locked
my $del = $node->background_psql('postgres', on_error_stop => 0);
$del->query_safe('BEGIN');
$del->query_safe("DELETE FROM ev WHERE page = 'k' AND n = 1");

# 2. a writer appends a partial of group k (and commits)
sql(q{INSERT INTO ev VALUES ('2026-12-07 10:00:30', 'k', 100), ('2026-12-07 10:00:31', 'j', 101)});
is(sql("SELECT count(*) FROM w_partials WHERE page = 'k'"), '1', "a pending partial of group k");

# 3. a fold starts; it must wait before taking any partial
my $fold = $node->background_psql('postgres', on_error_stop => 0);
$fold->query_until(qr/folding/, "\\echo folding\nSELECT pipeline.flush_window('w') AS folded;\n");
ok(wait_until(30, sub {
	sql(q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%flush_window%' AND wait_event_type = 'Lock'
	        AND pid <> pg_backend_pid()}) eq '1' }), 'the fold waits for a lock');
sleep 0.3;						# past deadlock_timeout: a cycle would be found now

# 4. the same transaction deletes in group k again: its recompute deletes k's
#    partials, which the fold must not hold
my ($out, $ret) = $del->query("DELETE FROM ev WHERE page = 'k' AND n = 2");
is($ret, 0, 'the second DELETE in group k did not fail');
unlike($del->{stderr} // '', qr/deadlock/, 'no deadlock for the writer');
$del->query_safe('COMMIT');
$del->quit;

# 5. the fold goes on once the transaction committed
my ($fout, $fret) = $fold->query('SELECT 1');
$fold->quit;
unlike($fout . ($fold->{stderr} // ''), qr/deadlock|ERROR/, 'no deadlock or error for the fold');
sql(q{SELECT pipeline.flush_window('w')});

is(sql('SELECT count(*) FROM w_partials'), '0', 'every partial folded');
is(sql(q{
	WITH want AS (SELECT date_bin('5 minutes', event_time, '1970-01-01 00:00:00+00') AS window_start, page,
	                     count(*) AS c, sum(n) AS s, count(DISTINCT n) AS d FROM ev GROUP BY 1, 2),
	     got AS (SELECT window_start, page, c, s, d FROM w)
	SELECT (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got) a)
	     + (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want) b)}), '0',
	'the window equals a GROUP BY of the source: nothing lost or counted twice');
is(sql(q{SELECT c || ' ' || s FROM w WHERE page = 'k'}), '19 307', "group k: 20 - 2 + 1 rows, 210 - 3 + 100");

$node->stop;
done_testing();
