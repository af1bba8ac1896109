import AxleTestSupport
import FirmwareProfile
import Testing
import TOML

#if canImport(Glibc)
import Glibc
#endif

/// A small DBC for broken-profile tests: value labels, a J1939-free command message whose `Target` signal has a
/// narrower range than its bits (so some values cannot be encoded), and a cycle time for the stale-after default.
let fixtureDBC = """
    VERSION ""

    NS_ :

    BS_:

    BU_: ECU TCU

    BO_ 256 Motion: 8 ECU
     SG_ Speed : 0|16@1+ (0.01,0) [0|655.35] "km/h" TCU
     SG_ Gear : 16|4@1+ (1,0) [0|15] "" TCU
     SG_ Temp : 24|8@1+ (1,-40) [-40|215] "degC" TCU

    BO_ 257 Position: 8 ECU
     SG_ Lat : 0|32@1- (1E-07,0) [-90|90] "deg" TCU
     SG_ Lon : 32|32@1- (1E-07,0) [-180|180] "deg" TCU

    BO_ 512 Command: 2 TCU
     SG_ Request : 0|2@1+ (1,0) [0|3] "" ECU
     SG_ Target : 2|5@1+ (1,10) [10|30] "degC" ECU
     SG_ Counter : 8|4@1+ (1,0) [0|15] "" ECU

    BA_DEF_ BO_ "GenMsgCycleTime" INT 0 10000;
    BA_DEF_DEF_ "GenMsgCycleTime" 0;
    BA_ "GenMsgCycleTime" BO_ 256 100;

    VAL_ 256 Gear 0 "P" 1 "R" 2 "N" 3 "D" ;
    VAL_ 512 Request 0 "None" 1 "Go" 2 "Stop" ;

    """

/// The head of a valid profile over `fixtureDBC` (lines 1-15); tests append sections after it.
let fixtureHead = """
    [profile]
    name = "test-profile"
    platform = "Test rig"
    firmware = "0.1"

    [buses.can]
    dbc = "test.dbc"

    [signals]
    "Vehicle.Speed" = { source = "Motion.Speed", unit = "km/h" }
    "Vehicle.Powertrain.Transmission.CurrentGear" = { source = "Motion.Gear" }
    "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature" = { source = "Motion.Temp", unit = "celsius" }
    "Vehicle.CurrentLocation.Latitude" = { source = "Position.Lat", unit = "degrees" }
    "Vehicle.CurrentLocation.Longitude" = { source = "Position.Lon", unit = "degrees" }

    """

struct FixtureError: Error {
    var message: String
}

/// A profile folder in a fresh temporary directory, named `test-profile` unless told otherwise.
struct ProfileFixture {
    let root: String
    let directory: String

    init(_ profile: String, dbc: String? = fixtureDBC, folder: String = "test-profile") throws {
        root = try makeTestDirectory(prefix: "axle-profile")
        directory = root + "/" + folder
        guard mkdir(directory, 0o755) == 0 else { throw FixtureError(message: "cannot create \(directory)") }
        _ = try AxleProcess.writeFile(directory + "/profile.toml", profile)
        if let dbc { _ = try AxleProcess.writeFile(directory + "/test.dbc", dbc) }
    }

    var profilePath: String { directory + "/profile.toml" }

    func validate() -> ProfileValidationReport {
        ProfileLoader.validate(directory: directory)
    }

    func remove() {
        removeTree(root)
    }
}

/// Problems as `line: severity: message`, without the folder (which differs per run).
func summary(_ report: ProfileValidationReport) -> [String] {
    report.problems.map { problem in
        let file = problem.path.split(separator: "/").last.map(String.init) ?? problem.path
        return "\(file):\(problem.line): \(problem.severity): \(problem.message)"
    }
}

/// Validates `profile` (written after nothing: give the whole file) and returns the problems as `summary` does.
func problems(of profile: String, dbc: String? = fixtureDBC) throws -> [String] {
    let fixture = try ProfileFixture(profile, dbc: dbc)
    defer { fixture.remove() }
    return summary(fixture.validate())
}
