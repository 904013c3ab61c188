# pipeline.lineage_html() in a real browser (issue 14, item 6).
#
# A small pipeline of alice (topic -> source -> table -> window -> sink ->
# topic, models, expectations, a data-triggered DAG) and objects of
# mallory named to break out of HTML and SVG.  Each page is written to a
# file and opened in headless Chromium:
#   - --dump-dom: every node of the graph the role sees has its name in
#     the SVG, as text; no element the names spell (img, script, an
#     onerror attribute) exists; the page fetches nothing (its
#     Content-Security-Policy); a role's page holds no other role's names;
#   - --screenshot: a PNG that is not empty.
# Chromium is installed by scripts/test.sh (scripts/lib.sh PP_PACKAGES);
# PP_SKIP_BROWSER=1 skips the browser (only), for a machine without one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('lineage_html');
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '127.0.0.1:1');
GRANT USAGE ON FOREIGN SERVER kafka TO alice;
CREATE SCHEMA shop AUTHORIZATION alice;
CREATE SCHEMA "m<x>" AUTHORIZATION mallory;
});
sql_as($node, 'alice', q{
SET search_path = shop;
CREATE TABLE shop.orders (id int, amount numeric, ts timestamptz);
CREATE TABLE shop.customers (id int PRIMARY KEY, name text);
SELECT pipeline.create_source('orders_src', server => 'kafka', topic => 'orders', target => 'shop.orders');
SELECT pipeline.create_sink('per_minute_out', server => 'kafka', topic => 'orders_per_minute');
SELECT pipeline.create_window('shop.per_minute', 'shop.orders', 'ts', pipeline.tumble('1 minute'),
                              'count(*) AS n, sum(amount) AS total', sink => 'per_minute_out');
SELECT pipeline.create_model('shop.stg_orders', 'SELECT id, amount, ts FROM shop.orders');
SELECT pipeline.create_model('shop.daily', 'SELECT date_trunc(''day'', ts) AS day, sum(amount) AS amount FROM shop.stg_orders GROUP BY 1');
SELECT * FROM pipeline.run();
SELECT pipeline.expect('shop.daily', 'day', 'not_null');
SELECT pipeline.expect('shop.orders', 'id', 'relationships', '{"to": "shop.customers", "field": "id"}');
SELECT pipeline.create_dag('on_orders', trigger_on => '{orders_src}');
SELECT pipeline.add_task('on_orders', 'build', $$SELECT * FROM pipeline.build('shop.stg_orders+')$$);
});
sql_as($node, 'mallory', q{
SET search_path = "m<x>";
CREATE TABLE "m<x>"."<img src=x onerror=alert(1)>" (id int);
CREATE TABLE "m<x>"."""];evil[" (id int);
SELECT pipeline.create_model('"m<x>"."--> x"', $$SELECT t.id FROM "m<x>"."<img src=x onerror=alert(1)>" t
                                                 JOIN "m<x>"."""];evil[" e USING (id)$$);
SELECT * FROM pipeline.run();
SELECT pipeline.expect('"m<x>"."--> x"', 'id', 'not_null', name => '<script>alert(1)</script>');
SELECT pipeline.expect('"m<x>"."--> x"', 'id', 'unique', name => '"];evil[ &amp; \N </svg><img src=y onerror=alert(2)>');
});

# the names of the nodes a role sees, hex-encoded on the way (a name may
# hold any character psql would otherwise format)
sub node_names
{
	my ($role) = @_;
	my $hex = sql_as($node, $role, q{
		SELECT string_agg(encode(convert_to(name, 'UTF8'), 'hex'), ',' ORDER BY node)
		  FROM pipeline._lineage_graph(NULL)});
	return map { pack('H*', $_) } split /,/, $hex;
}

my $dir = PostgreSQL::Test::Utils::tempdir();
sub write_page
{
	my ($role, $file) = @_;
	my $html = sql_as($node, $role, 'SELECT pipeline.lineage_html()');
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh $html;
	close $fh;
	return $html;
}

my %pages = (
	alice => "$dir/alice.html",
	mallory => "$dir/mallory.html",
	postgres => "$dir/all.html");
my %names = map { $_ => [ node_names($_) ] } keys %pages;
is(scalar @{ $names{alice} }, 12, 'alice sees her 12 nodes');
is(scalar @{ $names{mallory} }, 5, 'mallory sees her 5 nodes');
is(scalar @{ $names{postgres} }, 17, 'a superuser sees all 17');
my %html = map { $_ => write_page($_, $pages{$_}) } keys %pages;
for my $role (sort keys %html)
{
	unlike($html{$role}, qr/<(img|script)\b/i, "$role: the page has no img or script tag");
	like($html{$role}, qr/Content-Security-Policy" content="default-src 'none'/,
		"$role: the page forbids scripts and fetches");
	# (in text, a name's < is &lt;: only real tags match)
	unlike($html{$role}, qr/<[a-zA-Z][^>]*\s(src|href|xlink:href)=/i,
		"$role: the page refers to nothing outside");
}

# a relation's page: what is up- and downstream of the window
my $window_page = sql_as($node, 'alice', q{SELECT pipeline.lineage_html('shop.per_minute')});
like($window_page, qr/shop\.per_minute/, 'a relation\'s page names it');
unlike($window_page, qr/shop\.customers/, 'and leaves out what is not up- or downstream');

SKIP:
{
	skip 'PP_SKIP_BROWSER=1: no browser test', 1 + 5 * 3
	  if ($ENV{PP_SKIP_BROWSER} // '') eq '1';
	my $chromium = (grep { -x $_ } map { "$_/chromium" } split /:/, $ENV{PATH})[0]
	  // '/usr/bin/chromium';
	ok(-x $chromium, "chromium is installed ($chromium)");

	my @flags = ('--headless', '--no-sandbox', '--disable-gpu', "--user-data-dir=$dir/profile",
		'--no-first-run', '--disable-extensions');
	local $ENV{HOME} = $dir;
	for my $role (sort keys %pages)
	{
		my ($dom, $err) = run_command([ $chromium, @flags, '--dump-dom', "file://$pages{$role}" ]);
		like($dom, qr/<svg\b/, "$role: Chromium shows the SVG");
		# the DOM as the browser built it: any element a name spelled
		# would be there as a tag; names are text only
		unlike($dom, qr/<(img|script)\b|<[a-zA-Z][^>]*\son[a-z]+=/i,
			"$role: no injected element or event handler in the DOM");
		my %texts;
		while ($dom =~ m{<text\b[^>]*>([^<]*)</text>}g)
		{
			my $t = $1;
			$t =~ s/&lt;/</g;
			$t =~ s/&gt;/>/g;
			$t =~ s/&quot;/"/g;
			$t =~ s/&#(\d+);/chr($1)/ge;
			$t =~ s/&amp;/&/g;
			$texts{$t} = 1;
		}
		my @missing = grep { !$texts{ $_ =~ s/[\x00-\x1f\x7f]/ /gr } } @{ $names{$role} };
		is_deeply(\@missing, [], "$role: every node's name is in the SVG as text");
		my $others = join '|', map { quotemeta } ($role eq 'alice' ? ('m&lt;x&gt;', 'evil') :
			$role eq 'mallory' ? ('shop.', 'orders_src') : ('no-such-name-at-all'));
		unlike($dom, qr/$others/, "$role: no other role's names");

		my $png = "$dir/$role.png";
		run_command([ $chromium, @flags, '--window-size=1400,1000', "--screenshot=$png",
			"file://$pages{$role}" ]);
		my $head = -s $png ? slurp_file($png) : '';
		ok(length($head) > 1000 && substr($head, 0, 8) eq "\x89PNG\r\n\x1a\n",
			"$role: a screenshot, a PNG of " . length($head) . ' bytes');
	}
}

$node->stop;
done_testing();
