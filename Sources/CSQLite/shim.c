#include "CSQLite.h"

#include <stddef.h>

sqlite3_destructor_type CSQLite_transient(void) { return SQLITE_TRANSIENT; }

sqlite3_destructor_type CSQLite_static(void) { return SQLITE_STATIC; }

int CSQLite_bindBlobStatic(sqlite3_stmt *statement, int index, const void *bytes, int count) {
    if (count == 0 || bytes == NULL) return sqlite3_bind_zeroblob(statement, index, 0);
    return sqlite3_bind_blob(statement, index, bytes, count, SQLITE_STATIC);
}

int CSQLite_bindTextTransient(sqlite3_stmt *statement, int index, const char *text, int count) {
    return sqlite3_bind_text(statement, index, text, count, SQLITE_TRANSIENT);
}
