internal import CSQLite
import Foundation

/// An error from SQLite, with the statement or file it concerns.
package struct SQLiteError: Error, Sendable, CustomStringConvertible {
    package var code: Int32
    package var message: String
    package var description: String { "sqlite: \(message) (code \(code))" }
}

/// One SQLite connection. Not thread-safe: the store owns it behind a lock.
final class SQLiteDatabase {
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    let path: String

    /// - Parameter create: make the file if it does not exist (false: a missing file is an error).
    ///   A file made here is 0600 (SQLite would make it 0644 less the umask; its journal and WAL
    ///   take the database's mode): a store holds the seeds' Secrets.
    convenience init(path: String, create: Bool = true) throws(SQLiteError) {
        if create { try Self.createPrivate(path) }
        try self.init(opening: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX)
    }

    /// Opens `path` read-only as immutable (SQLite's `immutable=1`: no locks, no journal or WAL
    /// read or made): for a file nobody else writes, such as a snapshot being checked.
    convenience init(immutable path: String) throws(SQLiteError) {
        var components = URLComponents()
        components.scheme = "file"
        components.path = path
        components.queryItems = [URLQueryItem(name: "immutable", value: "1")]
        guard let uri = components.string else {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "\(path): not a path SQLite can open")
        }
        try self.init(opening: uri, flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, path: path)
    }

    private init(opening name: String, flags: Int32, path: String? = nil) throws(SQLiteError) {
        let path = path ?? name
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "\(path): \(message)")
        }
        handle = db
    }

    /// Creates `path` empty with mode 0600 (O_CREAT|O_EXCL|O_NOFOLLOW) unless it exists.
    static func createPrivate(_ path: String) throws(SQLiteError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            fchmod(fd, 0o600)
            close(fd)
        } else if errno != EEXIST {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "\(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message)
        }
    }

    /// A prepared statement for `sql`, prepared once per connection and reset for each use.
    func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw SQLiteError(code: rc, message: "\(lastMessage) in: \(sql)") }
        let statement = SQLiteStatement(stmt, database: self)
        statements[sql] = statement
        return statement
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// Copies the whole database into a new file at `path`, consistently, while it stays open.
    func copy(to path: String) throws(SQLiteError) {
        for statement in statements.values { statement.reset() }
        // VACUUM INTO writes into an empty file as into a new one: made 0600 here first.
        try Self.createPrivate(path)
        let escaped = path.replacing("'", with: "''")
        try execute("VACUUM INTO '\(escaped)'")
    }

    /// The size of the database file in bytes, and the part of it in use.
    func size() throws(SQLiteError) -> (total: Int64, inUse: Int64) {
        let pageSize = try scalar("PRAGMA page_size")
        let pages = try scalar("PRAGMA page_count")
        let free = try scalar("PRAGMA freelist_count")
        return (pageSize * pages, pageSize * (pages - free))
    }

    func scalar(_ sql: String) throws(SQLiteError) -> Int64 {
        let s = try statement(sql)
        defer { s.reset() }
        guard try s.step() else { return 0 }
        return s.int(0)
    }
}

/// A prepared statement. Columns and parameters are 0- and 1-based as in SQLite.
final class SQLiteStatement {
    private let stmt: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(_ stmt: OpaquePointer, database: SQLiteDatabase) {
        self.stmt = stmt
        self.database = database
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64) -> Self {
        sqlite3_bind_int64(stmt, index, value)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Data) -> Self {
        value.withUnsafeBytes { raw in
            // An empty blob must still be a blob, not NULL: give SQLite a valid pointer.
            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            _ = sqlite3_bind_blob64(stmt, index, base, sqlite3_uint64(raw.count), sqliteTransient)
        }
        return self
    }

    /// Advances to the next row; false when there is none.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let message = database.lastMessage
        sqlite3_reset(stmt)
        throw SQLiteError(code: rc, message: message)
    }

    /// Runs a statement that returns no rows.
    func run() throws(SQLiteError) {
        while try step() {}
    }

    @discardableResult
    func bind(_ index: Int32, _ value: String) -> Self {
        sqlite3_bind_text(stmt, index, value, -1, sqliteTransient)
        return self
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    func text(_ column: Int32) -> String { sqlite3_column_text(stmt, column).map { String(cString: $0) } ?? "" }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }

    func data(_ column: Int32) -> Data {
        let count = Int(sqlite3_column_bytes(stmt, column))
        guard count > 0, let base = sqlite3_column_blob(stmt, column) else { return Data() }
        return Data(bytes: base, count: count)
    }
}

/// SQLite's SQLITE_TRANSIENT (a destructor value of -1: copy the bytes now), which Swift cannot
/// import as a macro.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
