/* qr.c: a pass's token as a QR code (libqrencode, ECC level M, 4-module quiet zone), as PNG
 * (libpng, built in memory: writing files costs more than the whole encoding) or as SVG. */
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define QR_QUIET 4

static QRcode *encode(const char *text)
{
	/* case-sensitive automatic modes: Base45 text is all alphanumeric-mode characters */
	return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
}

static void png_to_buf(png_structp png, png_bytep data, png_size_t len)
{
	struct buf *b = png_get_io_ptr(png);

	if (buf_append(b, data, len) < 0)
		png_error(png, "PNG too large");
}

static void png_flush_none(png_structp png)
{
	(void)png;
}

int qr_png(const char *text, int scale, struct buf *out)
{
	QRcode *qr = encode(text);
	png_structp png = NULL;
	png_infop info = NULL;
	unsigned char *row = NULL;
	int size;
	volatile int rc = -1; /* set after setjmp */

	if (!qr)
		return -1;
	size = (qr->width + 2 * QR_QUIET) * scale;
	row = malloc((size_t)size);
	if (!row)
		goto out;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!info)
		goto out;
	if (setjmp(png_jmpbuf(png)))
		goto out;
	png_set_write_fn(png, out, png_to_buf, png_flush_none);
	/* black and white runs compress well even at the fastest level; the default takes ten times
	 * longer */
	png_set_compression_level(png, 1);
	png_set_filter(png, 0, PNG_FILTER_NONE);
	png_set_IHDR(png, info, (png_uint_32)size, (png_uint_32)size, 8, PNG_COLOR_TYPE_GRAY,
	             PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < size; y++) {
		int my = y / scale - QR_QUIET;
		for (int x = 0; x < size; x++) {
			int mx = x / scale - QR_QUIET, dark = 0;
			if (mx >= 0 && my >= 0 && mx < qr->width && my < qr->width)
				dark = qr->data[my * qr->width + mx] & 1;
			row[x] = dark ? 0 : 255;
		}
		png_write_row(png, row);
	}
	png_write_end(png, info);
	rc = 0;
out:
	if (png)
		png_destroy_write_struct(&png, info ? &info : NULL);
	free(row);
	QRcode_free(qr);
	return rc;
}

int qr_svg(const char *text, struct buf *out)
{
	QRcode *qr = encode(text);
	int w, rc = 0;

	if (!qr)
		return -1;
	w = qr->width + 2 * QR_QUIET;
	rc |= buf_printf(out,
	                 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	                 "shape-rendering=\"crispEdges\">"
	                 "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	                 w, w, w, w);
	for (int y = 0; y < qr->width; y++)
		for (int x = 0; x < qr->width; x++)
			if (qr->data[y * qr->width + x] & 1)
				rc |= buf_printf(out, "M%d %dh1v1h-1z", x + QR_QUIET, y + QR_QUIET);
	rc |= buf_printf(out, "\"/></svg>\n");
	QRcode_free(qr);
	return rc ? -1 : 0;
}
