# Upgrades: the oldest release updated along the chain of upgrade scripts
# must be the same extension as a fresh install of the current release.
#
# The current release is installed from the full script that the Makefile
# generates from control/sql/*.sql; an older database reaches it through
# control/pg_pipeline--0.1.0.sql and the hand-written upgrade scripts.  Two
# texts of one extension, so they can disagree: this test installs 0.1.0 in
# one database and updates it release by release (with rows in the catalogs
# from 0.4.0 on), installs the current release in another, describes both
# catalogs object by object with one query ($describe below) and fails with
# one line per difference, "<object>: <property>: <how>", for example
#
#   function pipeline._check_intervals(text,text[]): definition: line 6: after the update «...», fresh «...»
#   column created_at of table pipeline.sinks: column: after the update
#       «#10 timestamp with time zone not null default now()», fresh «... clock_timestamp()»
#   policy owner_writes on table pipeline.outbox: policy definition: only in a fresh install: ...
#
# What is compared, for every member of the extension (pg_depend deptype
# 'e') and what hangs off it:
#   - the members themselves, the version, and pg_extension_config_dump's
#     entries (extconfig/extcondition, by table name);
#   - functions and aggregates: pg_get_functiondef (arguments, defaults,
#     result, language, body), volatility, strictness, SECURITY DEFINER,
#     leakproof, parallel safety, proconfig (SET search_path);
#   - tables, views, sequences, composite types: kind, options (fillfactor,
#     autovacuum, security_invoker), replica identity, row level security
#     (enabled, forced), view definitions, sequence parameters and owning
#     column; columns in order (the position among live columns, so that
#     SELECT * agrees) with type, collation, NOT NULL, default or
#     generation expression, identity, storage; constraints
#     (pg_get_constraintdef), indexes (pg_get_indexdef), triggers
#     (pg_get_triggerdef, and whether enabled), policies (command, roles,
#     USING and WITH CHECK), rules;
#   - types, the foreign data wrapper (handler, validator, options);
#   - owner, privileges (aclexplode, sorted; a NULL ACL as its default) and
#     pg_init_privs (what pg_dump takes as the extension's own grants) of
#     every object and column; the comment of every object and column.
#
# A test that cannot fail proves nothing, so the second half breaks the
# updated database in each of those categories, as an upgrade script that
# forgot a statement would (a CREATE OR REPLACE, a COMMENT, a GRANT, an
# ALTER POLICY, a SET DEFAULT, a constraint, a config dump ...), and checks
# that the comparison names exactly that object and property.  (The server
# cannot be given a broken copy of a shipped script: its share directory
# belongs to root and PostgreSQL 15 reads extension scripts from nowhere
# else.  So each break is done in SQL, inside a transaction rolled back
# afterwards.)
#
# It also checks that the rows of a 0.4.0 database survive the updates
# (and what the updates fill in), that the current release updates to
# itself, and that every older release has an update path.
#
# When it fails: either control/sql/<area>.sql or the upgrade script to the
# current release is wrong; the line names the object.  docs/architecture.md
# ("Changing the SQL") describes the discipline.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

my $node = pipeline_node('upgrade');
$node->start;

# Every property of every object of the extension as
# [object, property, value] rows, as one JSON array.
my $describe = <<'SQL';
WITH ext AS (
    SELECT e.oid, e.extversion, e.extconfig, e.extcondition, e.extnamespace, e.extrelocatable
      FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_pipeline'),
-- member: the extension's objects (deptype 'e')
member AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_catalog.pg_depend d JOIN ext ON d.refobjid = ext.oid
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'),
-- rel: its tables, views and sequences, and the relations of its composite types
rel AS (
    SELECT c.oid, c.relkind, c.relowner
      FROM pg_catalog.pg_class c
     WHERE ('pg_catalog.pg_class'::regclass, c.oid) IN (SELECT classid, objid FROM member)
        OR (c.relkind = 'c' AND ('pg_catalog.pg_type'::regclass, c.reltype) IN (SELECT classid, objid FROM member))),
-- objs: every object described (members, columns, constraints, indexes,
-- triggers, policies, rules), with its ACL, its kind for acldefault()
-- (NULL: no privileges of its own) and its owner
objs(classid, objid, objsubid, acl, aclkind, owner) AS (
    SELECT 'pg_catalog.pg_namespace'::regclass, n.oid, 0, n.nspacl, 'n', n.nspowner
      FROM pg_catalog.pg_namespace n
     WHERE ('pg_catalog.pg_namespace'::regclass, n.oid) IN (SELECT classid, objid FROM member)
    UNION ALL
    SELECT 'pg_catalog.pg_proc'::regclass, p.oid, 0, p.proacl, 'f', p.proowner
      FROM pg_catalog.pg_proc p
     WHERE ('pg_catalog.pg_proc'::regclass, p.oid) IN (SELECT classid, objid FROM member)
    UNION ALL
    SELECT 'pg_catalog.pg_class'::regclass, c.oid, 0, c.relacl,
           CASE c.relkind WHEN 'S' THEN 's' WHEN 'c' THEN NULL ELSE 'r' END,
           CASE WHEN c.relkind <> 'c' THEN c.relowner END
      FROM pg_catalog.pg_class c JOIN rel USING (oid)
    UNION ALL
    SELECT 'pg_catalog.pg_class'::regclass, a.attrelid, a.attnum, a.attacl,
           CASE WHEN rel.relkind IN ('r', 'v') THEN 'c' END, NULL
      FROM pg_catalog.pg_attribute a JOIN rel ON rel.oid = a.attrelid
     WHERE a.attnum > 0 AND NOT a.attisdropped AND rel.relkind <> 'S'
    UNION ALL
    SELECT 'pg_catalog.pg_type'::regclass, t.oid, 0, t.typacl, 'T', t.typowner
      FROM pg_catalog.pg_type t
     WHERE ('pg_catalog.pg_type'::regclass, t.oid) IN (SELECT classid, objid FROM member)
    UNION ALL
    SELECT 'pg_catalog.pg_foreign_data_wrapper'::regclass, w.oid, 0, w.fdwacl, 'F', w.fdwowner
      FROM pg_catalog.pg_foreign_data_wrapper w
     WHERE ('pg_catalog.pg_foreign_data_wrapper'::regclass, w.oid) IN (SELECT classid, objid FROM member)
    UNION ALL
    SELECT 'pg_catalog.pg_foreign_server'::regclass, s.oid, 0, s.srvacl, 'S', s.srvowner
      FROM pg_catalog.pg_foreign_server s
     WHERE ('pg_catalog.pg_foreign_server'::regclass, s.oid) IN (SELECT classid, objid FROM member)
    UNION ALL
    SELECT 'pg_catalog.pg_constraint'::regclass, co.oid, 0, NULL::aclitem[], NULL::text, NULL::oid
      FROM pg_catalog.pg_constraint co
     WHERE co.conrelid IN (SELECT oid FROM rel)
        OR ('pg_catalog.pg_type'::regclass, co.contypid) IN (SELECT classid, objid FROM member)
    UNION ALL
    SELECT 'pg_catalog.pg_class'::regclass, i.indexrelid, 0, NULL::aclitem[], NULL::text, NULL::oid
      FROM pg_catalog.pg_index i WHERE i.indrelid IN (SELECT oid FROM rel)
    UNION ALL
    SELECT 'pg_catalog.pg_trigger'::regclass, tg.oid, 0, NULL::aclitem[], NULL::text, NULL::oid
      FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid IN (SELECT oid FROM rel) AND NOT tg.tgisinternal
    UNION ALL
    SELECT 'pg_catalog.pg_policy'::regclass, po.oid, 0, NULL::aclitem[], NULL::text, NULL::oid
      FROM pg_catalog.pg_policy po WHERE po.polrelid IN (SELECT oid FROM rel)
    UNION ALL
    SELECT 'pg_catalog.pg_rewrite'::regclass, ru.oid, 0, NULL::aclitem[], NULL::text, NULL::oid
      FROM pg_catalog.pg_rewrite ru WHERE ru.ev_class IN (SELECT oid FROM rel) AND ru.rulename <> '_RETURN'
    UNION ALL
    -- members of any other kind: membership and comment
    SELECT m.classid, m.objid, m.objsubid, NULL, NULL, NULL
      FROM member m
     WHERE m.classid NOT IN ('pg_catalog.pg_namespace'::regclass, 'pg_catalog.pg_proc'::regclass,
                             'pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass,
                             'pg_catalog.pg_foreign_data_wrapper'::regclass,
                             'pg_catalog.pg_foreign_server'::regclass)),
obj AS (
    SELECT o.*, pg_catalog.pg_describe_object(o.classid, o.objid, o.objsubid) AS label FROM objs o),
facts(object, attribute, value) AS (
    -- the extension itself
    SELECT 'extension pg_pipeline', 'version', ext.extversion FROM ext
    UNION ALL
    SELECT 'extension pg_pipeline', 'schema and relocatable',
           ext.extnamespace::regnamespace::text || ' ' || ext.extrelocatable FROM ext
    UNION ALL
    SELECT 'extension pg_pipeline', 'config dump of ' || coalesce(x.cfg::regclass::text, x.cfg::text),
           CASE WHEN coalesce(x.cond, '') = '' THEN 'all rows' ELSE x.cond END
      FROM ext, LATERAL unnest(ext.extconfig, ext.extcondition) AS x(cfg, cond)
    UNION ALL
    SELECT pg_catalog.pg_describe_object(m.classid, m.objid, m.objsubid), 'member of the extension', 'yes'
      FROM member m
    UNION ALL
    -- owners, privileges, comments: every object and column
    SELECT o.label, 'owner', o.owner::regrole::text FROM obj o WHERE o.owner IS NOT NULL
    UNION ALL
    SELECT o.label, 'privileges',
           (SELECT coalesce(string_agg(x, ', ' ORDER BY x), '(none)')
              FROM (SELECT format('%s %s%s by %s',
                                  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                                  a.privilege_type, CASE WHEN a.is_grantable THEN ' with grant option' END,
                                  a.grantor::regrole) AS x
                      FROM pg_catalog.aclexplode(coalesce(o.acl,
                               CASE WHEN o.aclkind <> 'c' THEN pg_catalog.acldefault(o.aclkind::"char", o.owner) END)) a) s)
      FROM obj o WHERE o.aclkind IS NOT NULL
    UNION ALL
    SELECT o.label, 'initial privileges (pg_init_privs)',
           (SELECT coalesce(string_agg(x, ', ' ORDER BY x), '(none)')
              FROM (SELECT format('%s %s%s',
                                  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                                  a.privilege_type, CASE WHEN a.is_grantable THEN ' with grant option' END) AS x
                      FROM pg_catalog.aclexplode(ip.initprivs) a) s)
      FROM obj o JOIN pg_catalog.pg_init_privs ip
        ON ip.classoid = o.classid AND ip.objoid = o.objid AND ip.objsubid = o.objsubid
    UNION ALL
    SELECT o.label, 'comment', coalesce(d.description, '(none)')
      FROM obj o LEFT JOIN pg_catalog.pg_description d
        ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid
    UNION ALL
    -- functions: the whole definition, and its properties one by one
    SELECT o.label, 'definition',
           CASE WHEN p.prokind = 'a'
                THEN format('aggregate %s: sfunc %s stype %s combinefunc %s finalfunc %s initcond %s parallel %s',
                            p.oid::regprocedure, g.aggtransfn, format_type(g.aggtranstype, NULL),
                            g.aggcombinefn, g.aggfinalfn, coalesce(g.agginitval, 'null'), p.proparallel)
                ELSE pg_catalog.pg_get_functiondef(p.oid) END
      FROM obj o JOIN pg_catalog.pg_proc p ON o.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = o.objid
      LEFT JOIN pg_catalog.pg_aggregate g ON g.aggfnoid = p.oid
    UNION ALL
    SELECT o.label, 'volatility, strict, security definer, leakproof, parallel',
           format('%s %s %s %s %s', p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, p.proparallel)
      FROM obj o JOIN pg_catalog.pg_proc p ON o.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = o.objid
    UNION ALL
    SELECT o.label, 'settings (proconfig)', coalesce(p.proconfig::text, '(none)')
      FROM obj o JOIN pg_catalog.pg_proc p ON o.classid = 'pg_catalog.pg_proc'::regclass AND p.oid = o.objid
    UNION ALL
    -- relations
    SELECT o.label, 'kind, persistence, access method, replica identity, options',
           format('%s %s %s %s %s', c.relkind, c.relpersistence,
                  coalesce((SELECT am.amname FROM pg_catalog.pg_am am WHERE am.oid = c.relam), '-'),
                  c.relreplident,
                  coalesce((SELECT string_agg(x, ',' ORDER BY x) FROM unnest(c.reloptions) x), '(none)'))
      FROM obj o JOIN pg_catalog.pg_class c ON o.classid = 'pg_catalog.pg_class'::regclass
                                           AND o.objsubid = 0 AND c.oid = o.objid
     WHERE c.relkind <> 'i'
    UNION ALL
    SELECT o.label, 'row level security (enabled, forced)', format('%s %s', c.relrowsecurity, c.relforcerowsecurity)
      FROM obj o JOIN pg_catalog.pg_class c ON o.classid = 'pg_catalog.pg_class'::regclass
                                           AND o.objsubid = 0 AND c.oid = o.objid
     WHERE c.relkind IN ('r', 'p')
    UNION ALL
    SELECT o.label, 'view definition', pg_catalog.pg_get_viewdef(c.oid)
      FROM obj o JOIN pg_catalog.pg_class c ON o.classid = 'pg_catalog.pg_class'::regclass
                                           AND o.objsubid = 0 AND c.oid = o.objid
     WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT o.label, 'sequence',
           format('%s start %s increment %s min %s max %s cache %s cycle %s owned by %s',
                  format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                  s.seqcache, s.seqcycle,
                  coalesce((SELECT pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
                              FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.seqrelid
                               AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0), 'nothing'))
      FROM obj o JOIN pg_catalog.pg_sequence s ON o.classid = 'pg_catalog.pg_class'::regclass
                                              AND o.objsubid = 0 AND s.seqrelid = o.objid
    UNION ALL
    SELECT o.label, 'index definition',
           pg_catalog.pg_get_indexdef(i.indexrelid)
           || CASE WHEN NOT i.indisvalid THEN ' (invalid)' ELSE '' END
           || CASE WHEN i.indisclustered THEN ' (clustered)' ELSE '' END
      FROM obj o JOIN pg_catalog.pg_index i ON o.classid = 'pg_catalog.pg_class'::regclass
                                           AND o.objsubid = 0 AND i.indexrelid = o.objid
    UNION ALL
    -- columns: position among the live columns, type, collation, not
    -- null, default or generation expression, identity, storage
    SELECT o.label, 'column',
           format('#%s %s%s%s%s%s%s', a.pos, format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attcollation <> t.typcollation THEN ' collate ' || a.attcollation::regcollation::text END,
                  CASE WHEN a.attnotnull THEN ' not null' END,
                  CASE WHEN a.attgenerated = 's' THEN ' generated always as (' || pg_get_expr(ad.adbin, ad.adrelid) || ') stored'
                       WHEN ad.adbin IS NOT NULL THEN ' default ' || pg_get_expr(ad.adbin, ad.adrelid) END,
                  CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text END,
                  CASE WHEN a.attstorage <> t.typstorage THEN ' storage ' || a.attstorage::text END)
      FROM obj o
      JOIN (SELECT a.*, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS pos
              FROM pg_catalog.pg_attribute a WHERE a.attnum > 0 AND NOT a.attisdropped) a
        ON o.classid = 'pg_catalog.pg_class'::regclass AND a.attrelid = o.objid AND a.attnum = o.objsubid
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    UNION ALL
    SELECT o.label, 'constraint definition',
           pg_catalog.pg_get_constraintdef(co.oid) || CASE WHEN co.convalidated THEN '' ELSE ' (not validated)' END
      FROM obj o JOIN pg_catalog.pg_constraint co ON o.classid = 'pg_catalog.pg_constraint'::regclass AND co.oid = o.objid
    UNION ALL
    SELECT o.label, 'trigger definition',
           pg_catalog.pg_get_triggerdef(tg.oid) || ' (enabled ' || tg.tgenabled::text || ')'
      FROM obj o JOIN pg_catalog.pg_trigger tg ON o.classid = 'pg_catalog.pg_trigger'::regclass AND tg.oid = o.objid
    UNION ALL
    SELECT o.label, 'policy definition',
           format('%s for %s to %s%s%s',
                  CASE WHEN po.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                  CASE po.polcmd WHEN '*' THEN 'all' WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'
                                 WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete' END,
                  (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END, ', ' ORDER BY 1)
                     FROM unnest(po.polroles) r),
                  ' using (' || pg_get_expr(po.polqual, po.polrelid) || ')',
                  ' with check (' || pg_get_expr(po.polwithcheck, po.polrelid) || ')')
      FROM obj o JOIN pg_catalog.pg_policy po ON o.classid = 'pg_catalog.pg_policy'::regclass AND po.oid = o.objid
    UNION ALL
    SELECT o.label, 'rule definition', pg_catalog.pg_get_ruledef(ru.oid)
      FROM obj o JOIN pg_catalog.pg_rewrite ru ON o.classid = 'pg_catalog.pg_rewrite'::regclass AND ru.oid = o.objid
    UNION ALL
    -- types (a composite type's attributes are its relation's columns)
    SELECT o.label, 'type',
           format('%s%s%s', t.typtype,
                  CASE WHEN t.typtype = 'd' THEN format(' over %s%s%s', format_type(t.typbasetype, t.typtypmod),
                            CASE WHEN t.typnotnull THEN ' not null' END, ' default ' || t.typdefault) END,
                  CASE WHEN t.typtype = 'e' THEN ' ' || (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                                                           FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) END)
      FROM obj o JOIN pg_catalog.pg_type t ON o.classid = 'pg_catalog.pg_type'::regclass AND t.oid = o.objid
    UNION ALL
    SELECT o.label, 'foreign data wrapper',
           format('handler %s validator %s options %s', w.fdwhandler::regproc, w.fdwvalidator::regproc, w.fdwoptions)
      FROM obj o JOIN pg_catalog.pg_foreign_data_wrapper w
        ON o.classid = 'pg_catalog.pg_foreign_data_wrapper'::regclass AND w.oid = o.objid)
SELECT json_agg(json_build_array(f.object, f.attribute, f.value) ORDER BY f.object, f.attribute)
  FROM facts f
SQL

# The description of a database, as { "object\tproperty" => value }; with
# $break, of the database as that SQL leaves it (rolled back afterwards).
sub describe
{
	my ($db, $break) = @_;
	my $sql = defined $break ? "BEGIN;\n$break;\n$describe;\nROLLBACK;" : "$describe;";
	my $rows = decode_json($node->safe_psql($db, $sql));
	return { map { ("$_->[0]\t$_->[1]" => $_->[2]) } @$rows };
}

sub shorten
{
	my ($s) = @_;
	$s =~ s/\n/ /g;
	return length($s) > 160 ? substr($s, 0, 157) . '...' : $s;
}

# "<object>: <property>: <how>" for each property that differs.
sub differences
{
	my ($updated, $fresh) = @_;
	my @out;
	for my $key (sort keys %{ { %$updated, %$fresh } })
	{
		my ($u, $f) = ($updated->{$key}, $fresh->{$key});
		next if defined $u && defined $f && $u eq $f;
		my ($object, $property) = split /\t/, $key;
		my $how;
		if (!defined $f)
		{
			$how = 'only after the update: ' . shorten($u);
		}
		elsif (!defined $u)
		{
			$how = 'only in a fresh install: ' . shorten($f);
		}
		else
		{
			# the first line that differs (function bodies are long)
			my @ul = split /\n/, $u, -1;
			my @fl = split /\n/, $f, -1;
			my $i = 0;
			$i++ while $i < @ul && $i < @fl && $ul[$i] eq $fl[$i];
			$how = (@ul > 1 || @fl > 1 ? 'line ' . ($i + 1) . ': ' : '')
			  . 'after the update «' . shorten($ul[$i] // '(end)')
			  . '», fresh «' . shorten($fl[$i] // '(end)') . '»';
		}
		push @out, "$object: $property: $how";
	}
	return @out;
}

my $current = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pg_pipeline'");
my $oldest = '0.1.0';

# The fresh install must come from the generated full script, not from the
# chain (which PostgreSQL would use when the script is missing: then the
# comparison could not fail).
my $sharedir = $node->config_data('--sharedir');
ok(-f "$sharedir/extension/pg_pipeline--$current.sql",
	"the full install script of $current is installed");

$node->safe_psql('postgres', 'CREATE ROLE someone');

########################################################################
# The oldest release, updated release by release, with rows from 0.4.0 on
########################################################################
my $path = $node->safe_psql('postgres',
	"SELECT path FROM pg_extension_update_paths('pg_pipeline')
	  WHERE source = '$oldest' AND target = '$current'");
my @chain = split /--/, $path;
is($chain[0], $oldest, "$current is reached from $oldest: $path");
ok((grep { $_ eq '0.4.0' } @chain), 'the chain passes 0.4.0, where the catalogs get rows');

$node->safe_psql('postgres', 'CREATE DATABASE chain');
$node->safe_psql('chain', "CREATE EXTENSION pg_pipeline VERSION '$oldest'");
for my $v (@chain[ 1 .. $#chain ])
{
	$node->safe_psql('chain', "ALTER EXTENSION pg_pipeline UPDATE TO '$v'");
	next unless $v eq '0.4.0';

	# One object of each kind, made with 0.4.0's functions: a source and a
	# sink (paused: there is no broker), a message waiting, a window with
	# rows, a DAG with a task and a run, a job.
	$node->safe_psql('chain', q{
		BEGIN;
		CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:9');
		CREATE TABLE public.events (ts timestamptz NOT NULL, v integer);
		SELECT pipeline.create_source('events', 'kafka', 'events', 'public.events');
		SELECT pipeline.pause_source('events');
		SELECT pipeline.create_sink('out', 'kafka', 'out');
		SELECT pipeline.pause_sink('out');
		SELECT pipeline.publish('out', 'waiting since 0.4.0');
		SELECT pipeline.create_window('public.events_1m', 'public.events', 'ts',
		                              pipeline.tumble('1 minute'), 'count(*) AS n, sum(v) AS total');
		INSERT INTO public.events VALUES ('2024-01-01 00:00:10+00', 1), ('2024-01-01 00:00:20+00', 2);
		SELECT pipeline.create_dag('nightly', '0 3 * * *');
		SELECT pipeline.add_task('nightly', 'load', 'SELECT 1');
		SELECT pipeline.run_now('nightly');
		SELECT pipeline.schedule('hourly', '1 hour', 'SELECT 2');
		COMMIT;
	});
}
is($node->safe_psql('chain', "SELECT extversion FROM pg_extension WHERE extname = 'pg_pipeline'"),
	$current, "updated along the chain to $current");

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_pipeline');

########################################################################
# The comparison
########################################################################
my $fresh = describe('fresh');
my $updated = describe('chain');
ok(keys %$fresh > 1000, 'a fresh install is described (' . scalar(keys %$fresh) . ' properties)');
ok((grep { /^function pipeline\._scheduler_tick\(boolean,boolean\)\tdefinition$/ } keys %$fresh),
	'the description has function bodies');
my @diffs = differences($updated, $fresh);
is(scalar @diffs, 0, "$oldest updated to $current equals a fresh install of $current")
  or diag(join "\n", 'differences:', @diffs);

########################################################################
# The rows of 0.4.0 after the updates
########################################################################
is($node->safe_psql('chain',
	"SELECT s.owner_oid = r.oid, s.target_oid = 'public.events'::regclass, s.paused
	   FROM pipeline.sources s, pg_roles r WHERE s.name = 'events' AND r.rolname = s.owner"),
	't|t|t', 'the source is kept; its owner_oid and target_oid are filled in');
is($node->safe_psql('chain',
	"SELECT (SELECT count(*) FROM pipeline.sinks WHERE owner_oid IS NOT NULL),
	        (SELECT string_agg(payload, ',') FROM pipeline.outbox WHERE owner_oid IS NOT NULL),
	        (SELECT count(*) FROM pipeline.windows WHERE owner_oid IS NOT NULL),
	        (SELECT string_agg(name, ',' ORDER BY name) FROM pipeline.dags WHERE owner_oid IS NOT NULL),
	        (SELECT count(*) FROM pipeline.tasks), (SELECT count(*) FROM pipeline.dag_runs) > 0"),
	'1|waiting since 0.4.0|1|hourly,nightly|2|t',
	'sinks, the outbox, windows, DAGs, tasks and runs are kept; owner_oid is filled in');
$node->safe_psql('chain', "INSERT INTO public.events VALUES ('2024-01-01 00:00:30+00', 4)");
is($node->safe_psql('chain', 'SELECT n, total FROM public.events_1m'), '3|7',
	'the window made in 0.4.0 is still maintained');
$node->safe_psql('chain', "SELECT pipeline.alter_source('events', batch_rows => 10)");
is($node->safe_psql('chain',
	"SELECT pipeline.create_dag('after', NULL) > 0, batch_rows FROM pipeline.sources WHERE name = 'events'"),
	't|10', 'the functions of the current release work on the old rows');

########################################################################
# The comparison fails: each break below is what an upgrade script that
# forgot one statement leaves behind; the comparison must name the object
# and the property.
########################################################################
my @breaks = (
	# functions
	[ 'a CREATE OR REPLACE FUNCTION (a body of the release before)',
	  q{CREATE OR REPLACE FUNCTION pipeline._check_intervals(what text, VARIADIC pairs text[])
	    RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
	    AS $$ BEGIN NULL; END $$},
	  'function pipeline._check_intervals(text,text[])', 'definition' ],
	[ 'an ALTER FUNCTION ... STABLE', 'ALTER FUNCTION pipeline.is_admin() VOLATILE',
	  'function pipeline.is_admin()', 'volatility, strict, security definer, leakproof, parallel' ],
	[ 'an ALTER FUNCTION ... SECURITY DEFINER', 'ALTER FUNCTION pipeline._watched(regclass) SECURITY INVOKER',
	  'function pipeline._watched(regclass)', 'volatility, strict, security definer, leakproof, parallel' ],
	[ 'an ALTER FUNCTION ... SET search_path', 'ALTER FUNCTION pipeline._owner_guard() RESET search_path',
	  'function pipeline._owner_guard()', 'settings (proconfig)' ],
	[ 'an ALTER FUNCTION ... OWNER TO', 'ALTER FUNCTION pipeline._role_limit(text, integer) OWNER TO someone',
	  'function pipeline._role_limit(text,integer)', 'owner' ],
	[ 'a REVOKE on a function',
	  'GRANT EXECUTE ON FUNCTION pipeline._scheduler_tick(boolean, boolean) TO PUBLIC',
	  'function pipeline._scheduler_tick(boolean,boolean)', 'privileges' ],
	[ 'a CREATE FUNCTION',
	  'ALTER EXTENSION pg_pipeline DROP FUNCTION pipeline._role_limit(text, integer);
	   DROP FUNCTION pipeline._role_limit(text, integer)',
	  'function pipeline._role_limit(text,integer)', 'definition' ],
	[ 'a DROP FUNCTION',
	  q{CREATE FUNCTION pipeline._watchers(rel regclass) RETURNS bigint LANGUAGE sql
	    AS $$ SELECT 0::bigint $$;
	    ALTER EXTENSION pg_pipeline ADD FUNCTION pipeline._watchers(regclass)},
	  'function pipeline._watchers(regclass)', 'member of the extension' ],
	# columns
	[ 'a SET DEFAULT', 'ALTER TABLE pipeline.sinks ALTER created_at SET DEFAULT now()',
	  'column created_at of table pipeline.sinks', 'column' ],
	[ 'a SET NOT NULL', 'ALTER TABLE pipeline.outbox ALTER owner DROP NOT NULL',
	  'column owner of table pipeline.outbox', 'column' ],
	[ 'where a column goes (ADD COLUMN puts it last, control/sql had it in the middle)',
	  'ALTER TABLE pipeline.windows DROP COLUMN retention;
	   ALTER TABLE pipeline.windows ADD COLUMN retention interval',
	  'column retention of table pipeline.windows', 'column' ],
	[ 'an ADD COLUMN', 'ALTER TABLE pipeline.sources DROP COLUMN target_oid CASCADE',
	  'column target_oid of table pipeline.sources', 'column' ],
	[ 'a SET STORAGE', 'ALTER TABLE pipeline.source_archive ALTER data SET STORAGE EXTENDED',
	  'column data of table pipeline.source_archive', 'column' ],
	# constraints, indexes, triggers
	[ 'an ADD CONSTRAINT', 'ALTER TABLE pipeline.tasks DROP CONSTRAINT tasks_intervals_bounded',
	  'constraint tasks_intervals_bounded on table pipeline.tasks', 'constraint definition' ],
	[ 'a CREATE INDEX', 'DROP INDEX pipeline.dags_next_fire_at',
	  'index pipeline.dags_next_fire_at', 'index definition' ],
	[ 'a CREATE TRIGGER', 'DROP TRIGGER limits ON pipeline.dags',
	  'trigger limits on table pipeline.dags', 'trigger definition' ],
	[ 'an ENABLE TRIGGER', 'ALTER TABLE pipeline.dags DISABLE TRIGGER guard',
	  'trigger guard on table pipeline.dags', 'trigger definition' ],
	# row level security
	[ 'an ALTER POLICY (the expression of the release before)',
	  'ALTER POLICY owner_or_admin ON pipeline.windows USING (owner = current_user OR pipeline.is_admin())',
	  'policy owner_or_admin on table pipeline.windows', 'policy definition' ],
	[ 'a CREATE POLICY', 'DROP POLICY owner_writes ON pipeline.outbox',
	  'policy owner_writes on table pipeline.outbox', 'policy definition' ],
	[ 'a policy command (FOR SELECT)',
	  'DROP POLICY owner_or_admin ON pipeline.sink_progress;
	   CREATE POLICY owner_or_admin ON pipeline.sink_progress
	       USING (EXISTS (SELECT 1 FROM pipeline.sinks s WHERE s.name = sink))',
	  'policy owner_or_admin on table pipeline.sink_progress', 'policy definition' ],
	[ 'an ENABLE ROW LEVEL SECURITY', 'ALTER TABLE pipeline.tasks DISABLE ROW LEVEL SECURITY',
	  'table pipeline.tasks', 'row level security (enabled, forced)' ],
	# privileges
	[ 'a GRANT on a table', 'REVOKE DELETE ON pipeline.task_runs FROM PUBLIC',
	  'table pipeline.task_runs', 'privileges' ],
	[ 'a GRANT on a sequence', 'REVOKE USAGE ON SEQUENCE pipeline.outbox_id_seq FROM PUBLIC',
	  'sequence pipeline.outbox_id_seq', 'privileges' ],
	[ 'a GRANT on a view', 'REVOKE SELECT ON pipeline.sink_status FROM PUBLIC',
	  'view pipeline.sink_status', 'privileges' ],
	[ 'a GRANT on the schema', 'REVOKE USAGE ON SCHEMA pipeline FROM PUBLIC',
	  'schema pipeline', 'privileges' ],
	[ 'a REVOKE on a column', 'GRANT UPDATE (owner) ON pipeline.dags TO someone',
	  'column owner of table pipeline.dags', 'privileges' ],
	[ 'an ALTER TABLE ... OWNER TO', 'ALTER TABLE pipeline.sources OWNER TO someone',
	  'table pipeline.sources', 'owner' ],
	[ 'the extension\'s own grants (pg_init_privs)',
	  "DELETE FROM pg_catalog.pg_init_privs WHERE objoid = 'pipeline.workers'::regclass",
	  'view pipeline.workers', 'initial privileges (pg_init_privs)' ],
	# comments
	[ 'a COMMENT ON FUNCTION (the text of the release before)',
	  q{COMMENT ON FUNCTION pipeline._check_intervals(text, text[]) IS
	    'raises an error for the first (name, interval) pair whose interval is not positive'},
	  'function pipeline._check_intervals(text,text[])', 'comment' ],
	[ 'a COMMENT ON COLUMN', 'COMMENT ON COLUMN pipeline.sources.target_oid IS NULL',
	  'column target_oid of table pipeline.sources', 'comment' ],
	[ 'a COMMENT ON TABLE', 'COMMENT ON TABLE pipeline.dags IS NULL',
	  'table pipeline.dags', 'comment' ],
	[ 'a COMMENT ON TYPE', q{COMMENT ON TYPE pipeline.window_spec IS 'a window'},
	  'type pipeline.window_spec', 'comment' ],
	# views, tables, sequences, types, the wrapper
	[ 'a CREATE OR REPLACE VIEW (the definition of the release before)',
	  'CREATE OR REPLACE VIEW pipeline.workers AS
	   SELECT w.kind, w.label AS works_on, w.pid, d.datname AS database, r.rolname AS role,
	          w.state, w.started_at, w.restarts, w.last_error, w.last_error_at, w.items, w.bytes,
	          round(w.items_per_sec::numeric, 1) AS items_per_sec,
	          round(w.bytes_per_sec::numeric, 1) AS bytes_per_sec, w.last_batch_at
	     FROM pipeline.get_workers() w
	     LEFT JOIN pg_catalog.pg_database d ON d.oid = w.datid
	     LEFT JOIN pg_catalog.pg_roles r ON r.oid = w.roleid',
	  'view pipeline.workers', 'view definition' ],
	[ 'a view option (security_invoker)', 'ALTER VIEW pipeline.sink_status RESET (security_invoker)',
	  'view pipeline.sink_status', 'kind, persistence, access method, replica identity, options' ],
	[ 'a table option', 'ALTER TABLE pipeline.task_runs RESET (autovacuum_analyze_threshold)',
	  'table pipeline.task_runs', 'kind, persistence, access method, replica identity, options' ],
	[ 'a sequence parameter', 'ALTER SEQUENCE pipeline.dags_dag_id_seq INCREMENT 2',
	  'sequence pipeline.dags_dag_id_seq', 'sequence' ],
	[ 'an ALTER TYPE ... DROP ATTRIBUTE', 'ALTER TYPE pipeline.window_spec ADD ATTRIBUTE extra integer',
	  'column extra of composite type pipeline.window_spec', 'column' ],
	[ 'the wrapper\'s validator', 'ALTER FOREIGN DATA WRAPPER pipeline_kafka NO VALIDATOR',
	  'foreign-data wrapper pipeline_kafka', 'foreign data wrapper' ],
	# the extension
	[ 'a pg_extension_config_dump',
	  q{UPDATE pg_catalog.pg_extension e
	       SET extconfig = (SELECT array_agg(c ORDER BY i) FROM unnest(e.extconfig) WITH ORDINALITY u(c, i)
	                         WHERE c <> 'pipeline.window_progress'::regclass),
	           extcondition = (SELECT array_agg(x ORDER BY i)
	                             FROM unnest(e.extcondition, e.extconfig) WITH ORDINALITY u(x, c, i)
	                            WHERE c <> 'pipeline.window_progress'::regclass)
	     WHERE e.extname = 'pg_pipeline'},
	  'extension pg_pipeline', 'config dump of pipeline.window_progress' ],
	[ 'a membership (ALTER EXTENSION DROP)', 'ALTER EXTENSION pg_pipeline DROP VIEW pipeline.jobs',
	  'view pipeline.jobs', 'member of the extension' ],
	[ 'the last step of the chain (the version)', q{UPDATE pg_catalog.pg_extension SET extversion = '0.0.1' WHERE extname = 'pg_pipeline'},
	  'extension pg_pipeline', 'version' ],
);
for my $break (@breaks)
{
	my ($what, $sql, $object, $property) = @$break;
	my @found = differences(describe('chain', $sql), $fresh);
	my @named = grep { index($_, "$object: $property: ") == 0 } @found;
	ok(@named, "an upgrade script that forgot $what: reported as \"$object: $property\"")
	  or diag(join "\n", 'reported instead:', @found ? @found : '(nothing)');
	note($named[0]) if @named;
}
is(scalar(differences(describe('chain'), $fresh)), 0, 'every break was rolled back');

########################################################################
# Update paths
########################################################################
# The current version updates to itself without complaint, and every
# shipped update script leads to the default version.
my ($ret, $out, $err) = $node->psql('fresh', 'ALTER EXTENSION pg_pipeline UPDATE');
is($ret, 0, 'ALTER EXTENSION UPDATE at the current version works');
like($err, qr/version "\Q$current\E" of extension "pg_pipeline" is already installed/, 'and says it is already current');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extension_versions v
	  WHERE name = 'pg_pipeline' AND version <> '$current'
	    AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('pg_pipeline') p
	                     WHERE p.source = v.version AND p.target = '$current' AND p.path IS NOT NULL)"),
	'0', 'every older version has an update path to the current one');

$node->stop;
done_testing();
