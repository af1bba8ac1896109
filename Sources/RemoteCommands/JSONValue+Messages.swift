import AxleBase

extension JSONValue {
    /// The value as an error message shows it: its JSON, cut after 64 characters with the full size given. A number
    /// beyond what a Double holds (`1e400`) is read as an infinity, which JSON renders as `null`; it is named for what
    /// it is instead, so that a message never says "null" about a value that was a number.
    var shownInMessage: String {
        if case .number(let number) = self, !number.isFinite {
            return "a number too large to represent (\(number < 0 ? "below -" : "beyond ")1.8e308)"
        }
        let text = rendered()
        guard text.unicodeScalars.count > UntrustedText.defaultLimit else { return text }
        // rendered() has escaped every control character already; only the length needs bounding.
        return String(text.unicodeScalars.prefix(UntrustedText.defaultLimit)) + "…(\(text.utf8.count) bytes)"
    }
}

extension JSONValue {
    /// An integer that the parser could hold exactly (`.integer`); a fraction, an exponent beyond range or any
    /// other kind of value is not.
    var isWholeNumberInRange: Bool {
        if case .integer = self { return true }
        return false
    }
}
