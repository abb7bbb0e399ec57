internal import COpenSSL

/// SHA-256 through OpenSSL's EVP interface, fed incrementally.
package final class SHA256Hasher {
    private let context: OpaquePointer

    package init() {
        // EVP_MD_CTX_new only fails when out of memory.
        context = EVP_MD_CTX_new()!
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    package func update(_ bytes: some Collection<UInt8>) {
        let done = bytes.withContiguousStorageIfAvailable { buffer in
            EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
        }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        }
    }

    package func update(_ text: String) { update(Array(text.utf8)) }

    /// The digest's 32 bytes.
    package func digest() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        digest.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return Array(digest.prefix(Int(length)))
    }

    /// The digest as lowercase hex.
    package func finalize() -> String {
        digest().map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    package static func hex(_ bytes: some Collection<UInt8>) -> String {
        let hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// HMAC-SHA256 (RFC 2104) over ``SHA256Hasher``, fed incrementally: H((K ^ opad) || H((K ^ ipad) || m)).
package final class HMACSHA256 {
    private let inner = SHA256Hasher()
    private let outerPad: [UInt8]

    /// - Parameter key: any length (a key longer than SHA-256's block of 64 bytes is hashed first).
    package init(key: some Collection<UInt8>) {
        var block =
            key.count > 64
            ? {
                let h = SHA256Hasher()
                h.update(key)
                return h.digest()
            }() : Array(key)
        block += [UInt8](repeating: 0, count: 64 - block.count)
        outerPad = block.map { $0 ^ 0x5c }
        inner.update(block.map { $0 ^ 0x36 })
    }

    package func update(_ bytes: some Collection<UInt8>) { inner.update(bytes) }

    /// The MAC's 32 bytes (call once).
    package func finalize() -> [UInt8] {
        let outer = SHA256Hasher()
        outer.update(outerPad)
        outer.update(inner.digest())
        return outer.digest()
    }

    /// The MAC of `message` under `key`, in one call.
    package static func mac(key: some Collection<UInt8>, _ message: some Collection<UInt8>) -> [UInt8] {
        let hmac = HMACSHA256(key: key)
        hmac.update(message)
        return hmac.finalize()
    }
}
