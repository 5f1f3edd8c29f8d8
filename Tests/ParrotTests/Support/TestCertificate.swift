/// A self-signed certificate for 127.0.0.1 that the test servers present
/// and the tests trust with --ca-file.
enum TestCertificate {
    static func make(key: String, certificate: String) throws {
        let made = Command.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
                                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        guard made.status == 0 else { throw TestServerError("openssl req: \(made)") }
    }
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
