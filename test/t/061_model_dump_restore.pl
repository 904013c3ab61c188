# pg_dump restores models and they run after restore (issue 12).
#
# A database with a view model, a table model, an incremental model (merge
# by event time, its high-water mark), a seed and a snapshot, all of alice,
# run once, is dumped with pg_dump and restored with pg_restore into a new
# database.  There, with nothing done by hand (no refresh_model_edges):
# the catalog rows and the graph came back (pipeline.models and
# pipeline.model_edges are extension configuration tables), the graph
# names the restored relations (lineage without problems, the same
# selection order), pipeline.run() succeeds and gives the same rows, a
# second run is incremental from the restored high-water mark, and a new
# model gets a new model_id.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('model_dump');
$node->start;

sub sql_in { my ($db, $q) = @_; return $node->safe_psql($db, $q); }
sub alice_in
{
	my ($db, $q) = @_;
	return $node->safe_psql($db, $q, extra_params => [ '-U', 'alice' ]);
}

$node->safe_psql('postgres', q{CREATE ROLE alice LOGIN; CREATE DATABASE src OWNER alice;});
sql_in('src', q{
CREATE EXTENSION pg_pipeline;
CREATE SCHEMA raw AUTHORIZATION alice;
CREATE SCHEMA staging AUTHORIZATION alice;
CREATE SCHEMA marts AUTHORIZATION alice;
});
alice_in('src', q{
SET timezone = 'UTC';
CREATE TABLE raw.orders (id int PRIMARY KEY, customer_id int, amount numeric, created_at timestamptz);
CREATE TABLE raw.customers (id int PRIMARY KEY, name text, region text, updated_at timestamptz);
INSERT INTO raw.customers VALUES (1, 'Ada', 'eu', '2026-12-01 09:00'), (2, 'Grace', 'us', '2026-12-01 09:00');
INSERT INTO raw.orders VALUES (1, 1, 10, '2026-12-01 10:00'), (2, 2, 20, '2026-12-01 11:00'),
                              (3, 1, 30, '2026-12-01 12:00');
SELECT pipeline.create_seed('staging.regions', E'code,label\neu,Europe\nus,Americas\n', 'code text PRIMARY KEY, label text');
SELECT pipeline.create_model('staging.stg_orders',
    'SELECT id AS order_id, customer_id, amount, created_at AS ordered_at FROM raw.orders',
    materialized => 'view');
SELECT pipeline.create_model('marts.dim_customers',
    'SELECT c.id AS customer_id, c.name, r.label AS region FROM raw.customers c JOIN staging.regions r ON r.code = c.region',
    materialized => 'table');
SELECT pipeline.create_model('marts.fact_orders',
    'SELECT o.order_id, d.name, d.region, o.amount, o.ordered_at
       FROM staging.stg_orders o JOIN marts.dim_customers d USING (customer_id)',
    materialized => 'incremental', unique_key => '{order_id}',
    incremental_by => 'ordered_at');
SELECT pipeline.create_model('marts.customers_history',
    'SELECT id, name, region, updated_at FROM raw.customers',
    materialized => 'snapshot', unique_key => '{id}', snapshot_strategy => 'timestamp',
    updated_at_column => 'updated_at');
});

my $run = q{SELECT string_agg(model || ':' || status || ':' || coalesce(rows::text, '-'), ' ' ORDER BY model)
              FROM pipeline.run()};
my $built = 'marts.customers_history:success:2 marts.dim_customers:success:2 '
  . 'marts.fact_orders:success:3 staging.regions:success:0 staging.stg_orders:success:0';
is(alice_in('src', $run), $built, 'src: the first run builds every model');

# what must come back: the rows of every model, the graph, the state
my %rows = (
	'staging.regions'         => 'SELECT code, label FROM staging.regions ORDER BY 1',
	'staging.stg_orders'      => 'SELECT * FROM staging.stg_orders ORDER BY 1',
	'marts.dim_customers'     => 'SELECT * FROM marts.dim_customers ORDER BY 1',
	'marts.fact_orders'       => 'SELECT * FROM marts.fact_orders ORDER BY 1',
	'marts.customers_history' => 'SELECT id, name, region, updated_at, valid_to, is_current
	                                FROM marts.customers_history ORDER BY 1, 4');
my $lineage = q{SELECT string_agg(model || '<' || upstream || ':' || upstream_kind || ':'
                                  || coalesce(problem, 'ok'), ' ' ORDER BY model, upstream)
                  FROM pipeline.lineage};
my $catalog = q{SELECT string_agg(concat_ws('|', model_id, name, owner, materialized, sql, strategy, unique_key,
                                            incremental_by, search_path, high_water_mark, owner_oid = 'alice'::regrole),
                                  E'\n' ORDER BY model_id)
                  FROM pipeline.models};
my $order = q{SELECT string_agg(m, ' ') FROM pipeline.select_models('+marts.fact_orders') m};
my %src = map { $_ => alice_in('src', "SET timezone = 'UTC'; $rows{$_}") } keys %rows;
my $src_lineage = alice_in('src', $lineage);
my $src_catalog = alice_in('src', $catalog);
my $src_order = alice_in('src', $order);
is($src_lineage, 'marts.customers_history<raw.customers:table:ok marts.dim_customers<raw.customers:table:ok '
	  . 'marts.dim_customers<staging.regions:model:ok marts.fact_orders<marts.dim_customers:model:ok '
	  . 'marts.fact_orders<staging.stg_orders:model:ok staging.stg_orders<raw.orders:table:ok', 'src: lineage recorded');
is(alice_in('src', q{SELECT count(*) FROM pipeline.model_problems}), '0', 'src: no model problem');

# expectations on the models (issue 13): restored with them, and they gate
alice_in('src', q{SELECT pipeline.expect('marts.fact_orders', 'order_id', 'unique');
                  SELECT pipeline.expect('marts.fact_orders', 'name', 'not_null', severity => 'warn',
                                         row_filter => 'order_id > 0')});
my $expectations = q{SELECT string_agg(concat_ws('|', expectation_id, relation, name, kind, columns, severity,
                                                 row_filter, search_path, owner, owner_oid = 'alice'::regrole),
                                       E'\n' ORDER BY expectation_id)
                       FROM pipeline.expectations};
my $src_expectations = alice_in('src', $expectations);
my $checked = q{SELECT string_agg(expectation || ':' || status || ':' || total, ' ' ORDER BY expectation)
                  FROM pipeline.check('marts.fact_orders')};
is(alice_in('src', $checked), 'not_null_name:pass:3 unique_order_id:pass:3', 'src: the expectations pass');

# ---- dump, restore into a new database --------------------------------------
my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump of src');
$node->safe_psql('postgres', 'CREATE DATABASE dst OWNER alice');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into dst (the dump creates the extension)');

isnt(sql_in('dst', q{SELECT string_agg(oid::text, ',' ORDER BY relname) FROM pg_class
                      WHERE relname IN ('dim_customers', 'fact_orders', 'stg_orders')}),
	sql_in('src', q{SELECT string_agg(oid::text, ',' ORDER BY relname) FROM pg_class
                     WHERE relname IN ('dim_customers', 'fact_orders', 'stg_orders')}),
	'the restored relations have other OIDs');
is(alice_in('dst', $catalog), $src_catalog, 'dst: the same models (ids, SQL, owner, high-water mark)');
is(alice_in('dst', $lineage), $src_lineage, 'dst: the same lineage, with no problem, without refresh_model_edges');
is(alice_in('dst', $expectations), $src_expectations, 'dst: the same expectations, on the restored relations');
is(alice_in('dst', q{SELECT count(*) FROM pipeline.check_results}), '0', 'dst: results are history, not dumped');
is(alice_in('dst', $checked), 'not_null_name:pass:3 unique_order_id:pass:3', 'dst: they check the restored rows');
is(alice_in('dst', q{SELECT count(*) FROM pipeline.model_problems}), '0', 'dst: no model problem');
my $edges = q{SELECT string_agg(m.name || '<' || e.upstream_name || ':'
                                || CASE WHEN e.upstream_oid IS NULL THEN 'by name'
                                        WHEN e.upstream_oid = to_regclass(e.upstream_name)::oid THEN 'oid ok'
                                        ELSE 'stale oid' END, ' ' ORDER BY m.name, e.upstream_name)
                FROM pipeline.model_edges e JOIN pipeline.models m USING (model_id)};
is(sql_in('dst', $edges), sql_in('src', $edges), 'dst: every edge names its restored relation by OID');
unlike(sql_in('dst', $edges), qr/stale/, 'dst: no stale OID');
is(alice_in('dst', $order), $src_order, 'dst: the same dependency order');
for my $m (sort keys %rows)
{
	is(alice_in('dst', "SET timezone = 'UTC'; $rows{$m}"), $src{$m}, "dst: $m restored with its rows");
}

# ---- run after restore ------------------------------------------------------------
my $rerun = 'marts.customers_history:success:0 marts.dim_customers:success:2 '
  . 'marts.fact_orders:success:0 staging.regions:success:0 staging.stg_orders:success:0';
is(alice_in('src', $run), $rerun, 'src: a second run (nothing new for the incremental model and the snapshot)');
is(alice_in('dst', $run), $rerun, 'dst: pipeline.run() after restore succeeds the same way');
for my $m (sort keys %rows)
{
	is(alice_in('dst', "SET timezone = 'UTC'; $rows{$m}"),
		alice_in('src', "SET timezone = 'UTC'; $rows{$m}"), "dst: $m has the same rows as src after the run");
}

# new data reaches every kind of model after restore, in dependency order
alice_in('dst', q{
INSERT INTO raw.orders VALUES (4, 2, 40, '2026-12-01 13:00');
UPDATE raw.customers SET name = 'Grace H.', updated_at = '2026-12-02 09:00' WHERE id = 2;
});
is(alice_in('dst', $run), 'marts.customers_history:success:2 marts.dim_customers:success:2 '
	  . 'marts.fact_orders:success:1 staging.regions:success:0 staging.stg_orders:success:0', 'dst: a run with new data');
is(alice_in('dst', q{SELECT string_agg(order_id || ':' || name, ' ' ORDER BY order_id) FROM marts.fact_orders}),
	'1:Ada 2:Grace 3:Ada 4:Grace H.', 'dst: the incremental model merged only the new order, from the restored high-water mark');
is(alice_in('dst', q{SELECT string_agg(name || ':' || is_current, ' ' ORDER BY id, updated_at)
                       FROM marts.customers_history}), 'Ada:true Grace:false Grace H.:true',
	'dst: the snapshot kept its history and recorded the change');

# a model created after the restore gets a new id, and its edges are right
my $new_id = alice_in('dst', q{SELECT pipeline.create_model('marts.order_count',
                                   'SELECT count(*) AS n FROM marts.fact_orders', materialized => 'table')});
cmp_ok($new_id, '>', sql_in('dst', q{SELECT max(model_id) FROM pipeline.models WHERE name <> 'marts.order_count'}),
	'dst: a new model gets a new model_id (the identity continues after the restored ids)');
is(alice_in('dst', q{SELECT string_agg(model || ':' || status || ':' || rows, ' ') FROM pipeline.run('marts.order_count')}),
	'marts.order_count:success:1', 'dst: the new model runs');
is(alice_in('dst', q{SELECT upstream || ':' || coalesce(problem, 'ok') FROM pipeline.lineage
                      WHERE model = 'marts.order_count'}), 'marts.fact_orders:ok', 'dst: its lineage');

$node->stop;
done_testing();
