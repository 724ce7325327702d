// Package query is the SQL engine of the SeaTable emulator: it parses the
// SeaTable SQL dialect (SELECT, UPDATE, DELETE on one table) and runs it
// against tables the emulator provides through the Catalog and Table
// interfaces.
//
// Dialect notes and deliberate choices:
//
//   - Keywords and function names are case-insensitive. Column names are
//     matched exactly first and, failing that, case-insensitively when only
//     one column matches. Table names are passed to Catalog.Table as
//     written (backticks removed); the Catalog decides how strictly to match.
//   - Words that are keywords (SELECT, FROM, ORDER, SET, ...) must be quoted
//     with backticks to be used as table or column names.
//   - String comparison (=, <, LIKE) is case-sensitive; ILIKE folds case.
//     In LIKE patterns % matches any run, _ one character, and a backslash
//     makes the next character literal.
//   - ORDER BY sorts NULL first when ascending (last when descending), then
//     booleans, numbers, strings; ties keep insertion order. It accepts
//     columns, output aliases, 1-based positions and expressions.
//   - NULL follows SQL three-valued logic: a comparison with NULL is unknown,
//     and a WHERE that is unknown does not match. An empty multiple-select is
//     NULL.
//   - Multiple-select cells: `=`, `<`, ... and IN are true when any element
//     satisfies them; `!=`/`<>` and NOT IN are true when no element does.
//   - Values of date, ctime and mtime columns (and now()) compare as instants
//     when the other side parses as an ISO date ("2024-01-31", with or
//     without time and offset); a value without an offset takes the other
//     side's offset.
//   - A number compared with a string compares numerically when the string
//     parses as a number; otherwise `=` is false, `!=` true, ordering unknown.
//   - SELECT returns at most MaxResults rows whatever the LIMIT, and
//     DefaultLimit rows when there is no LIMIT, as SeaTable does.
//   - Aggregates (COUNT, SUM, MIN, MAX, AVG) are keyed in result rows by
//     their text as written, e.g. "COUNT(*)"; GROUP BY and HAVING are
//     supported. A non-aggregated column in a grouped SELECT takes the value
//     of the group's first row (MySQL's lenient mode).
//   - Joins (FROM T1, T2) and INSERT are not supported.
package query
