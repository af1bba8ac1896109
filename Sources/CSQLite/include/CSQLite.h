// C at the edge: the SQLite pieces Swift cannot use directly. SQLITE_STATIC and SQLITE_TRANSIENT are casts of 0 and
// -1 to a function pointer type, which do not import; the binding helpers below say which lifetime they use, so no
// Swift code handles those sentinel values. Every symbol is prefixed CSQLite_.
#ifndef CSQLite_H
#define CSQLite_H

#include <sqlite3.h>

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the bind call returns.
sqlite3_destructor_type CSQLite_transient(void);

/// SQLITE_STATIC: SQLite uses the bound bytes in place; they must stay valid until the statement is reset or the
/// binding replaced.
sqlite3_destructor_type CSQLite_static(void);

/// Binds `count` bytes as a blob without copying them (SQLITE_STATIC); an empty blob when `count` is 0, even when
/// `bytes` is NULL (sqlite3_bind_blob would bind SQL NULL for a NULL pointer). Returns an SQLite result code.
int CSQLite_bindBlobStatic(sqlite3_stmt *statement, int index, const void *bytes, int count);

/// Binds `count` bytes of UTF-8 as text, copied (SQLITE_TRANSIENT). Returns an SQLite result code.
int CSQLite_bindTextTransient(sqlite3_stmt *statement, int index, const char *text, int count);

#endif
