import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// python's http.server on 127.0.0.1, on a free port, over a fresh directory,
/// for one test. `plain` is http.server as it ships (HTTP/1.0, one request a
/// connection, Range ignored); `ranges` speaks HTTP/1.1 with keep-alive,
/// Range, ETag and If-Match; `tls` is `ranges` behind TLS with a self-signed
/// certificate for 127.0.0.1 (caFile) made by openssl for the test.
///
/// Extra paths for failures: /_status/N answers N; /_moved/P redirects to /P;
/// /_loop redirects to itself; /_flaky/P answers 503 twice, then /P;
/// /_cut/P sends half of /P and closes; /_cutonce/P does that the first time only;
/// /_gets/P answers how many GETs of /P it has had.
final class HTTPTestServer: @unchecked Sendable {
    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case plain, ranges, tls
        var description: String { rawValue }
    }

    let kind: Kind
    let directory: String
    let root: String
    private(set) var port: UInt16 = 0
    private let process = Process()

    var caFile: String { directory + "/cert.pem" }
    /// The server's root as a path under the agent.
    var base: String { "/\(kind == .tls ? "https" : "http")/127.0.0.1:\(port)" }
    /// `--ca-file` for the agent when the server's certificate must be trusted.
    var trust: [String] { kind == .tls ? ["--ca-file", caFile] : [] }
    var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

    init(_ kind: Kind) throws {
        self.kind = kind
        directory = Paths.temporaryDirectory("http-\(kind)")
        root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Self.script.write(toFile: directory + "/server.py", atomically: false, encoding: .utf8)
        var arguments = [directory + "/server.py", root, directory + "/port", kind == .plain ? "plain" : "ranges"]
        if kind == .tls {
            try TestCertificate.make(key: directory + "/key.pem", certificate: caFile)
            arguments += [caFile, directory + "/key.pem"]
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/server.log"))
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        if let written = LoopbackPort.written(to: directory + "/port", by: process) {
            port = written
            return
        }
        finish()
        throw HTTPTestServerError("python http.server did not start: \(log)")
    }

    func local(_ path: String) -> String { root + path }

    func write(_ path: String, _ bytes: [UInt8]) {
        try! FileManager.default.createDirectory(atPath: (local(path) as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        precondition(FileManager.default.createFile(atPath: local(path), contents: Data(bytes)), "cannot write \(path)")
    }

    func write(_ path: String, _ text: String) { write(path, Array(text.utf8)) }

    func finish() {
        if process.isRunning {
            // SIGKILL: the test runner's blocked signals are blocked in its children too.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        Paths.remove(directory)
    }

    /// The server: http.server's handler with the extra paths, Range for `ranges`.
    static let script = #"""
    import http.server, os, re, signal, ssl, sys, threading, time
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    root, portfile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    counts, lock = {}, threading.Lock()

    def count(path):
        with lock:
            counts[path] = counts.get(path, 0) + 1
            return counts[path]

    class Handler(http.server.SimpleHTTPRequestHandler):
        if mode == "ranges":
            protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            count("GET " + self.path.split("?")[0])
            self.route(True)

        def do_HEAD(self):
            self.route(False)

        def answer(self, status, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def route(self, body):
            path = self.path.split("?")[0]
            m = re.fullmatch(r"/_gets(/.*)", path)
            if m:
                with lock:
                    text = str(counts.get("GET " + m.group(1), 0)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            m = re.fullmatch(r"/_status/(\d+)", path)
            if m:
                return self.answer(int(m.group(1)))
            if path == "/_loop":
                return self.answer(302, [("Location", "/_loop")])
            if path.startswith("/_moved/"):
                return self.answer(301, [("Location", path[len("/_moved"):])])
            if path.startswith("/_flaky/"):
                if count(path) <= 2:
                    return self.answer(503)
                self.path = path[len("/_flaky"):]
            m = re.fullmatch(r"/_(cut|cutonce)(/.*)", path)
            if m:
                if body and (m.group(1) == "cut" or count(path) == 1):
                    with open(root + m.group(2), "rb") as f:
                        data = f.read()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.path = m.group(2)
            if mode == "ranges" and self.ranged(body):
                return
            return super().do_GET() if body else super().do_HEAD()

        def ranged(self, body):
            local = self.translate_path(self.path)
            if not os.path.isfile(local):
                return False
            st = os.stat(local)
            etag = '"%x-%x"' % (st.st_mtime_ns, st.st_size)
            common = [("ETag", etag), ("Accept-Ranges", "bytes"),
                      ("Last-Modified", self.date_time_string(int(st.st_mtime)))]
            if self.headers.get("If-Match") not in (None, "*", etag):
                self.answer(412)
                return True
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if not m:
                # The whole file, with its validators (HEAD too).
                self.send_response(200)
                for name, value in common + [("Content-Length", str(st.st_size))]:
                    self.send_header(name, value)
                self.end_headers()
                if body:
                    with open(local, "rb") as f:
                        self.wfile.write(f.read())
                return True
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else st.st_size - 1, st.st_size - 1)
            if start >= st.st_size:
                self.answer(416, [("Content-Range", "bytes */%d" % st.st_size)] + common)
                return True
            self.send_response(206)
            for name, value in common + [("Content-Range", "bytes %d-%d/%d" % (start, end, st.st_size)),
                                         ("Content-Length", str(end - start + 1))]:
                self.send_header(name, value)
            self.end_headers()
            if body:
                with open(local, "rb") as f:
                    f.seek(start)
                    self.wfile.write(f.read(end - start + 1))
            return True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 4:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()
    """#
}

typealias HTTPTestServerError = TestServerError

/// Runs `body` with a fresh server of `kind`, and stops it whatever happens.
func withHTTPServer(_ kind: HTTPTestServer.Kind, _ body: (HTTPTestServer) throws -> Void) throws {
    let server = try HTTPTestServer(kind)
    defer { server.finish() }
    try body(server)
}
