/// Text that came from outside the agent (a command request's id, name or key, a value in a configuration file, a
/// field of a report) made safe to write to a log or a terminal.
///
/// A log line must stay one line: a newline followed by `<0>` in an unsigned command id would otherwise become a
/// separate journald record at priority 0 (emergency). A terminal must not be driven by what it shows: ESC and the
/// C1 controls start escape sequences (window title, screen clear), and bidirectional overrides can make shown text
/// read differently from what it is. Every such character is written as a visible escape instead: `\n`, `\r`, `\t`,
/// `\x1b` (C0, DEL and C1 controls), `\u{202E}` (format characters and the line and paragraph separators).
public enum UntrustedText {
    /// How many characters of an untrusted value messages show by default; the rest is counted, not echoed.
    public static let defaultLimit = 64

    /// `text` with every control and format character written as a visible escape. The result contains no such
    /// character, so escaping it again changes nothing (a log line built from escaped parts can be escaped whole).
    /// A backslash is kept as it is: use `quoted(_:limit:)` where the value must be read back unambiguously.
    public static func printable(_ text: some StringProtocol) -> String {
        // Most text needs nothing: skip the copy.
        if !text.unicodeScalars.contains(where: needsEscape) { return String(text) }
        var out = ""
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) { out += escape(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// `text` in double quotes, with `"` and `\` escaped as well as every control and format character, and cut
    /// after `limit` characters (Unicode scalars) with the full size given: `"abc…(10485760 bytes)"`. For values
    /// quoted inside a message, so that where the value ends and what it contains are both plain.
    public static func quoted(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        var out = "\""
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown == limit {
                out += "…(\(text.utf8.count) bytes)"
                break
            }
            shown += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if needsEscape(scalar) { out += escape(scalar) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// Characters that move the cursor, start an escape sequence, end a line or change how text is shown.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        // C0 controls, DEL and C1 controls: the general category `control` covers exactly these.
        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) { return true }
        guard scalar.value >= 0xA0 else { return false }
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default:
            let hex = String(scalar.value, radix: 16)
            if scalar.value < 0x100 { return "\\x" + (hex.count < 2 ? "0" : "") + hex }
            return "\\u{" + hex.uppercased() + "}"
        }
    }
}
