extension StringProtocol {
    /// Without leading and trailing whitespace (Foundation's trimming, without Foundation).
    public func trimmedOfWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
