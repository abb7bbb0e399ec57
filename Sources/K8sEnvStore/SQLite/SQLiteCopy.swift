/// A consistent copy of an SQLite database that another process keeps open and writes (kine's).
package enum SQLiteCopy {
    /// Writes the whole of `database`, as of one moment, to a new file at `path`, while its
    /// owner goes on serving: `VACUUM INTO` reads in one transaction, which a WAL database lets
    /// run beside the owner's writes. Waits up to `busyTimeout` milliseconds for a lock.
    /// - Throws: ``StoreError`` with SQLite's reason (a database that cannot be opened is named).
    package static func copy(database: String, to path: String, busyTimeout: Int32 = 10_000) throws(StoreError) {
        do {
            let source = try SQLiteDatabase(path: database, create: false)
            try source.execute("PRAGMA busy_timeout = \(busyTimeout)")
            try source.copy(to: path)
        } catch {
            throw StoreError(.internal, error.message)
        }
    }
}
