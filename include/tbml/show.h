/* Spark's text output: Dataset.show()'s table, printSchema()'s tree, and the value formatting
 * they rest on (Java's Double.toString, Spark's date and timestamp strings). Also the date and
 * timestamp parsers the readers and SQL's CAST share, so text round-trips through one place.
 * Times are UTC (Spark with spark.sql.session.timeZone=UTC). */
#ifndef TBML_SHOW_H
#define TBML_SHOW_H

#include "tbml/column.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_FORMAT_MAX 64 /* room for any formatted double, date or timestamp, with the NUL */

/* Java's Double.toString(v): the shortest decimal that reads back as v (as JDK 19+ prints),
 * in plain form for 1e-3 <= |v| < 1e7 ("30.0", "0.001", "1234567.5") and in computerized
 * scientific form otherwise ("1.0E7", "1.234E-5"); "NaN", "Infinity", "-Infinity", "-0.0".
 * Writes a NUL-terminated string to buf (TBML_FORMAT_MAX bytes) and returns its length. */
size_t tbml_format_double(double v, char *buf);
/* Days since 1970-01-01 as "yyyy-MM-dd" (years outside 0..9999 as Spark prints them: "+10000-01-01"
 * style is not produced; such years print with their digits and a '-' for BCE). Returns length. */
size_t tbml_format_date(int64_t days, char *buf);
/* Microseconds since the epoch as "yyyy-MM-dd HH:mm:ss[.ffffff]", fraction without trailing
 * zeros, as Spark casts a timestamp to string. Returns length. */
size_t tbml_format_timestamp(int64_t micros, char *buf);

/* Civil dates (proleptic Gregorian, as Spark 3 uses). */
int64_t tbml_days_from_civil(int64_t y, int m, int d);
void tbml_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Parses "yyyy-MM-dd" (1 or 2 digit month and day accepted, as Spark's default parser does).
 * Returns 1 and sets *days, or 0 if s is not a valid date. s need not be NUL-terminated. */
int tbml_parse_date(const char *s, size_t size, int64_t *days);
/* Parses "yyyy-MM-dd[( |T)HH:mm[:ss[.f{1,9}]]][Z|(+|-)HH[:]mm]"; without a zone the time is UTC.
 * Returns 1 and sets *micros, or 0. */
int tbml_parse_timestamp(const char *s, size_t size, int64_t *micros);

/* Spark's string for a cell (as show() and CAST(x AS STRING) give it), appended to a growable
 * buffer: *buf (tbml_realloc'd), *len bytes used, *cap allocated. NULL gives "null". */
void tbml_format_cell(const tbml_column *c, int64_t row, char **buf, size_t *len, size_t *cap);

/* Dataset.showString(n, truncate): the table of the first n rows as Spark builds it, including
 * the trailing newline and, when the table has more rows, "only showing top n rows\n".
 * truncate > 0 cuts cells longer than truncate characters to truncate-3 characters and "...",
 * and right-aligns; truncate == 0 shows whole cells left-aligned. Returns a new string
 * (tbml_free it). */
char *tbml_show_string(const tbml_table *t, int64_t n, int truncate);
/* Dataset.show(n, truncate): showString followed by println's newline, written to f. */
void tbml_show(const tbml_table *t, int64_t n, int truncate, FILE *f);

/* StructType.treeString: "root\n" and " |-- name: type (nullable = true)\n" per field.
 * Returns a new string (tbml_free it). */
char *tbml_schema_tree_string(const tbml_schema *s);
/* Dataset.printSchema(): treeString followed by println's newline, written to f. */
void tbml_print_schema(const tbml_schema *s, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
