import AxleBase
import ConfigBundle

/// What `config status` shows: the listed vehicles grouped by active version, last version, status and reason,
/// with a NO_REPORT group for those that sent nothing. Pure: the command collects the reports, this groups and
/// renders them.
public struct ConfigurationStatusTable: Sendable {
    /// What one vehicle's retained state topic held.
    public enum Entry: Sendable {
        /// A report, and its JSON as received (for `--json`).
        case report(ConfigurationReport, raw: JSONValue)
        /// A payload that is not a report: why.
        case unreadable(String)
    }

    /// Vehicles that share a row.
    public struct Group: Sendable, Equatable {
        /// nil for NO_REPORT and UNREADABLE.
        public var activeVersion: UInt64?
        public var lastVersion: UInt64?
        /// A `ConfigurationStatus` raw value, NO_REPORT, UNREADABLE, or nil when the vehicle has received no version.
        public var status: String?
        public var reason: String?
        public var vehicles: [String]

        public init(activeVersion: UInt64? = nil, lastVersion: UInt64? = nil, status: String?, reason: String? = nil, vehicles: [String]) {
            self.activeVersion = activeVersion
            self.lastVersion = lastVersion
            self.status = status
            self.reason = reason
            self.vehicles = vehicles
        }
    }

    /// Every listed vehicle, in the order listed.
    public let vehicles: [String]
    public let entries: [String: Entry]

    public init(vehicles: [String], entries: [String: Entry]) {
        self.vehicles = vehicles
        self.entries = entries
    }

    /// The rows: vehicles that reported, by active version then last version, status and reason; then UNREADABLE,
    /// then NO_REPORT.
    public var groups: [Group] {
        var reported: [Group] = []
        var unreadable = Group(status: "UNREADABLE", vehicles: [])
        var silent = Group(status: "NO_REPORT", vehicles: [])
        for vehicle in vehicles {
            switch entries[vehicle] {
            case nil: silent.vehicles.append(vehicle)
            case .unreadable: unreadable.vehicles.append(vehicle)
            case .report(let report, _):
                let key = Group(
                    activeVersion: report.active.version, lastVersion: report.last?.version,
                    status: report.last?.status.rawValue, reason: report.last?.reason, vehicles: [])
                if let index = reported.firstIndex(where: { $0.sameRow(as: key) }) {
                    reported[index].vehicles.append(vehicle)
                } else {
                    reported.append(Group(
                        activeVersion: key.activeVersion, lastVersion: key.lastVersion, status: key.status, reason: key.reason,
                        vehicles: [vehicle]))
                }
            }
        }
        reported.sort { ($0.activeVersion ?? 0, $0.lastVersion ?? 0, $0.status ?? "", $0.reason ?? "")
            < ($1.activeVersion ?? 0, $1.lastVersion ?? 0, $1.status ?? "", $1.reason ?? "") }
        return reported + [unreadable, silent].filter { !$0.vehicles.isEmpty }
    }

    /// The table for people: one row per group, the count, and the first few vehicle ids.
    public var text: String {
        let header = ["ACTIVE VERSION", "LAST VERSION", "STATUS", "REASON", "VEHICLES", "IDS"]
        var rows: [[String]] = [header]
        for group in groups {
            rows.append([
                group.activeVersion.map(String.init) ?? "-", group.lastVersion.map(String.init) ?? "-", group.status ?? "-",
                group.reason ?? "-", String(group.vehicles.count), RolloutText.names(group.vehicles, limit: 5),
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for row in rows {
            var line = ""
            for (column, cell) in row.enumerated() {
                if column == row.count - 1 {
                    line += cell
                } else if column == 4 {
                    // The count is right-aligned, as numbers are.
                    line += String(repeating: " ", count: widths[column] - cell.count) + cell + "  "
                } else {
                    line += cell.padded(to: widths[column]) + "  "
                }
            }
            text += line + "\n"
        }
        let reported = vehicles.filter { entries[$0] != nil }.count
        text += "\(reported) of \(vehicles.count) \(vehicles.count == 1 ? "vehicle" : "vehicles") reported\n"
        return text
    }

    /// The `--json` document: each vehicle (its report as received), and the groups with their counts.
    public var json: JSONValue {
        var perVehicle: [JSONValue] = []
        for vehicle in vehicles {
            var members: [(String, JSONValue)] = [("vehicle", .string(vehicle))]
            switch entries[vehicle] {
            case nil:
                members.append(("status", .string("NO_REPORT")))
            case .unreadable(let why):
                members.append(("status", .string("UNREADABLE")))
                members.append(("error", .string(why)))
            case .report(let report, let raw):
                members.append(("active_version", .integer(Int128(report.active.version))))
                members.append(("last_version", report.last.map { .integer(Int128($0.version)) } ?? .null))
                members.append(("status", report.last.map { .string($0.status.rawValue) } ?? .null))
                members.append(("reason", report.last?.reason.map { .string($0) } ?? .null))
                members.append(("text", report.last?.text.map { .string($0) } ?? .null))
                members.append(("high_water_mark", .integer(Int128(report.highWaterMark))))
                members.append(("report", raw))
            }
            perVehicle.append(.object(members))
        }
        func optional(_ value: UInt64?) -> JSONValue { value.map { .integer(Int128($0)) } ?? .null }
        let groups = groups.map { group in
            JSONValue.object([
                ("active_version", optional(group.activeVersion)), ("last_version", optional(group.lastVersion)),
                ("status", group.status.map { .string($0) } ?? .null), ("reason", group.reason.map { .string($0) } ?? .null),
                ("count", .integer(Int128(group.vehicles.count))), ("vehicles", .array(group.vehicles.map { .string($0) })),
            ])
        }
        return .object([
            ("listed", .integer(Int128(vehicles.count))),
            ("reported", .integer(Int128(vehicles.filter { entries[$0] != nil }.count))),
            ("groups", .array(groups)), ("vehicles", .array(perVehicle)),
        ])
    }
}

extension ConfigurationStatusTable.Group {
    fileprivate func sameRow(as other: Self) -> Bool {
        activeVersion == other.activeVersion && lastVersion == other.lastVersion && status == other.status && reason == other.reason
    }
}
