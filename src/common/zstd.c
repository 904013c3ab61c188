/*-------------------------------------------------------------------------
 *
 * zstd.c
 *	  zstd helpers: payloads of dead letters and the raw archive are kept
 *	  as zstd frames in bytea columns.
 *
 * Decompression is bounded: a frame is refused when its output would pass
 * pg_pipeline.max_decompressed_size (a superuser-only parameter, 256 MB by
 * default).  A frame that states its size (every frame pg_pipeline writes
 * does) is checked before anything is allocated; one that does not is
 * first decoded without keeping its output, to count it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zstd.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "common/pipeline.h"

/* zstd-compress len bytes into a new bytea (level 3: fast, good on JSON) */
bytea *
pp_zstd_compress(const void *data, size_t len)
{
	size_t		bound = ZSTD_compressBound(len);
	bytea	   *out = palloc(VARHDRSZ + bound);
	size_t		n = ZSTD_compress(VARDATA(out), bound, data ? data : "", len, 3);

	if (ZSTD_isError(n))
		elog(ERROR, "zstd compression failed: %s", ZSTD_getErrorName(n));
	SET_VARSIZE(out, VARHDRSZ + n);
	return out;
}

/*
 * The most a frame may decompress to: pg_pipeline.max_decompressed_size.
 * A zstd frame can expand by a factor of about 30,000 (an RLE block of
 * 128 kB costs 4 bytes), and pipeline.zstd_decompress() is callable by
 * anyone, so an unbounded output would let a few kilobytes take a
 * gigabyte of a backend's memory.  The default, 256 MB, is the largest
 * batch_bytes: what a consumer writes is one message (a dead letter) or
 * the records of one partition of one batch (the raw archive).
 */
int			pp_zstd_max_output = 256 * 1024 * 1024;

static void
refuse_size(unsigned long long size, bool known)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("zstd-compressed payload is too large"),
			 known ?
			 errdetail("The frame decompresses to %llu bytes, more than pg_pipeline.max_decompressed_size (%d bytes).",
					   size, pp_zstd_max_output) :
			 errdetail("The frame decompresses to more than pg_pipeline.max_decompressed_size (%d bytes).",
					   pp_zstd_max_output),
			 errhint("If the payload is genuine, a superuser can raise pg_pipeline.max_decompressed_size (at most 1GB) for the session.")));
}

static void
refuse_corrupt(size_t rc)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid zstd-compressed payload"),
			 errdetail("zstd: %s", ZSTD_isError(rc) ? ZSTD_getErrorName(rc) : "truncated frame")));
}

/*
 * Run the first frame of src through zstd's streaming decoder.  With
 * out == NULL only count the output (refusing it once it passes the
 * limit); otherwise write exactly outlen bytes to out.  Returns the
 * output's length.
 */
static size_t
stream_frame(const char *src, size_t srclen, char *out, size_t outlen)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer in = {src, srclen, 0};
	static char chunk[65536];	/* counting: the output is thrown away */
	size_t		total = 0;
	size_t		rc = 0;

	if (ds == NULL)
		elog(ERROR, "out of memory for a zstd stream");
	ZSTD_initDStream(ds);
	for (;;)
	{
		ZSTD_outBuffer o = {out ? out + total : chunk,
		out ? outlen - total : sizeof(chunk), 0};
		size_t		in_before = in.pos;

		rc = ZSTD_decompressStream(ds, &o, &in);
		if (ZSTD_isError(rc))
			break;
		total += o.pos;
		if (total > (size_t) pp_zstd_max_output)
		{
			ZSTD_freeDStream(ds);
			refuse_size(0, false);
		}
		if (rc == 0)
			break;				/* the end of the frame */
		if (o.pos == 0 && in.pos == in_before)
			break;				/* no progress: truncated (or larger than counted) */
	}
	ZSTD_freeDStream(ds);
	if (ZSTD_isError(rc) || rc != 0)
		refuse_corrupt(rc);
	return total;
}

/*
 * Decompress a frame that does not say its size (zstd's streaming API):
 * once to count, within the limit and without keeping anything, then
 * into a buffer of exactly that size.
 */
static bytea *
decompress_stream(const char *src, size_t srclen)
{
	size_t		size = stream_frame(src, srclen, NULL, 0);
	bytea	   *out = palloc(VARHDRSZ + size);

	if (stream_frame(src, srclen, VARDATA(out), size) != size)
		refuse_corrupt(0);
	SET_VARSIZE(out, VARHDRSZ + size);
	return out;
}

/*
 * Decompress a zstd frame made by the consumer.  The output is refused
 * (program_limit_exceeded) when it would be larger than
 * pg_pipeline.max_decompressed_size, before any of it is allocated.
 */
bytea *
pp_zstd_decompress(bytea *in)
{
	const char *src = VARDATA_ANY(in);
	size_t		srclen = VARSIZE_ANY_EXHDR(in);
	unsigned long long size = ZSTD_getFrameContentSize(src, srclen);
	bytea	   *out;
	size_t		n;

	if (size == ZSTD_CONTENTSIZE_UNKNOWN)
		return decompress_stream(src, srclen);
	if (size == ZSTD_CONTENTSIZE_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid zstd-compressed payload")));
	if (size > (unsigned long long) pp_zstd_max_output)
		refuse_size(size, true);
	out = palloc(VARHDRSZ + size);
	n = ZSTD_decompress(VARDATA(out), size, src, srclen);
	if (ZSTD_isError(n))
		refuse_corrupt(n);
	SET_VARSIZE(out, VARHDRSZ + n);
	return out;
}
