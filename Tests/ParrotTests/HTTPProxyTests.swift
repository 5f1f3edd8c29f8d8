import Foundation
import Testing

/// The HTTP driver through a real proxy (nginx): `-p` and HTTP_PROXY. The
/// origin is named by an address from TEST-NET-1, which nothing routes, so
/// only a request sent through the proxy can be answered.
@Suite struct HTTPProxyTests {
    static let hidden = "/http/192.0.2.1:8080"

    static func withProxy(_ body: (HTTPTestServer, ProxyTestServer) throws -> Void) throws {
        try withHTTPServer(.ranges) { origin in
            HTTPAgentTests.populate(origin)
            let proxy = try ProxyTestServer(origin: origin.port)
            defer { proxy.finish() }
            try body(origin, proxy)
        }
    }

    @Test func optionSendsRequestsThroughTheProxy() throws {
        try Self.withProxy { origin, proxy in
            let result = Command.run([Paths.parrot, "run", "-p", "127.0.0.1:\(proxy.port)", "--", "/bin/sh", "-c",
                                      "cat \(Self.hidden)/a.json && ls \(Self.hidden)/dir && tail -c 100 \(Self.hidden)/big.bin | od -An -tx1 | head -1"],
                                     timeout: 60)
            #expect(result.status == 0, "\(result)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: origin.local("/big.bin")))
            let tail = bytes.suffix(100).prefix(16).map { String(format: " %02x", $0) }.joined()
            #expect(result.stdout == "[1, 2, 3, {\"four\": 4}]\nsub dir\nx.txt\n\(tail)\n", "\(result)")
            // nginx saw the requests in absolute form: they went through it.
            #expect(proxy.accessLog.contains("GET http://192.0.2.1:8080/a.json HTTP/1.1"), "\(proxy.accessLog)")
        }
    }

    @Test func environmentProxyIsUsedAndLoopbackBypassesIt() throws {
        try Self.withProxy { origin, proxy in
            let result = Command.run([Paths.parrot, "run", "--no-cache", "--", "/bin/sh", "-c",
                                      "cat \(Self.hidden)/a.json /http/127.0.0.1:\(origin.port)/dir/x.txt"],
                                     environment: ["HTTP_PROXY": "http://127.0.0.1:\(proxy.port)/"], timeout: 60)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "[1, 2, 3, {\"four\": 4}]\nx\n", "\(result)")
            #expect(proxy.accessLog.contains("http://192.0.2.1:8080/a.json"), "\(proxy.accessLog)")
            #expect(!proxy.accessLog.contains("x.txt"), "loopback went through the proxy: \(proxy.accessLog)")
        }
    }

    @Test func proxyNotListeningIsRefusedQuickly() throws {
        let port = LoopbackPort.free()
        let started = Date()
        let result = Command.run([Paths.parrot, "run", "-p", "127.0.0.1:\(port)", "--", "/bin/cat", "\(Self.hidden)/a.json"],
                                 timeout: 60)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("Connection refused"), "\(result)")
        #expect(Date().timeIntervalSince(started) < 15)
    }
}
