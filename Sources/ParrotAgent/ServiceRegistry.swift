import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// The drivers of the servers the program has used, one per service and
/// authority, made on first use and kept (each holds its own connection).
final class ServiceRegistry {
    let factories: [String: ServiceFactory]
    /// Set for job reports: drivers are wrapped to count what they do.
    let recorder: JobRecorder?
    private var drivers: [String: FileService] = [:]
    private var failures: [String: ServiceError] = [:]
    private var last: (service: String, authority: String, driver: FileService)?

    /// How long answers to stat are kept (AttributeCache); 0 keeps none.
    let attributeLifetime: Double

    init(_ factories: [String: ServiceFactory], recorder: JobRecorder? = nil, attributeLifetime: Double = 0) {
        self.factories = factories
        self.recorder = recorder
        self.attributeLifetime = attributeLifetime
    }

    var names: Set<String> { Set(factories.keys) }

    func driver(for location: RemoteLocation) throws(ServiceError) -> FileService {
        if location.isServiceRoot { return ServiceRoot.shared }
        // Most calls go to the server the previous one went to.
        if let last, last.service == location.service, last.authority == location.authority { return last.driver }
        let key = location.service + "/" + location.authority
        if let driver = drivers[key] {
            last = (location.service, location.authority, driver)
            return driver
        }
        // A malformed authority fails the same way every time: say it once.
        if let failure = failures[key] { throw failure }
        guard let factory = factories[location.service] else {
            throw ServiceError(errno: ENOENT, message: "no service \(location.service)")
        }
        do throws(ServiceError) {
            var driver = try factory(location.authority)
            // `host` and `host:9094` are one server: one driver, one cache,
            // so that a change made through one name is seen through the other.
            let server = driver.endpoint.map { location.service + "/" + $0 } ?? key
            if let known = drivers[server] {
                driver = known
            } else {
                if let recorder { driver = MeteredService(driver, server: server, recorder: recorder) }
                if attributeLifetime > 0 { driver = AttributeCache(driver, lifetime: attributeLifetime) }
                drivers[server] = driver
            }
            drivers[key] = driver
            last = (location.service, location.authority, driver)
            return driver
        } catch {
            failures[key] = error
            throw error
        }
    }
}
