/*-------------------------------------------------------------------------
 *
 * zstd.c
 *	  zstd helpers: payloads of dead letters and the raw archive are kept
 *	  as zstd frames in bytea columns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <zstd.h>

#include "lib/stringinfo.h"
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

/* Decompress a frame that does not say its size (zstd's streaming API). */
static bytea *
decompress_stream(const char *src, size_t srclen)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	StringInfoData out;
	ZSTD_inBuffer in = {src, srclen, 0};
	char		chunk[65536];
	size_t		rc = 0;

	initStringInfo(&out);
	appendStringInfoSpaces(&out, VARHDRSZ);
	ZSTD_initDStream(ds);
	while (in.pos < in.size)
	{
		ZSTD_outBuffer o = {chunk, sizeof(chunk), 0};

		rc = ZSTD_decompressStream(ds, &o, &in);
		if (ZSTD_isError(rc))
			break;
		appendBinaryStringInfo(&out, chunk, o.pos);
		if (rc == 0)
			break;
	}
	ZSTD_freeDStream(ds);
	if (ZSTD_isError(rc) || rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid zstd-compressed payload"),
				 errdetail("zstd: %s", ZSTD_isError(rc) ? ZSTD_getErrorName(rc) : "truncated frame")));
	SET_VARSIZE(out.data, out.len);
	return (bytea *) out.data;
}

/* Decompress a zstd frame made by the consumer. */
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
	if (size == ZSTD_CONTENTSIZE_ERROR || size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid zstd-compressed payload")));
	out = palloc(VARHDRSZ + size);
	n = ZSTD_decompress(VARDATA(out), size, src, srclen);
	if (ZSTD_isError(n))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid zstd-compressed payload"),
				 errdetail("zstd: %s", ZSTD_getErrorName(n))));
	SET_VARSIZE(out, VARHDRSZ + n);
	return out;
}

