import AxleBase
import AxleTestSupport
import RemoteCommands
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Key files")
struct KeyFileTests {
    @Test func aGeneratedKeyPairRoundTripsThroughItsFilesAndSigns() throws {
        let directory = try TestDirectory()
        let prefix = directory.path + "/fleet-a"
        let key = try CommandSigningKey.generate(keyID: "fleet-a")
        try key.write(prefix: prefix)

        let readBack = try CommandSigningKey(contentsOfFile: prefix + ".key")
        let publicKey = try CommandPublicKey(contentsOfFile: prefix + ".pub")
        #expect(readBack.keyID == "fleet-a")
        #expect(readBack.publicKey == key.publicKey)
        #expect(publicKey == key.publicKey)
        #expect(AxleProcess.readText(prefix + ".pub") == publicKey.fileText)
        #expect(publicKey.fileText.hasPrefix("axle-ed25519-public fleet-a "))
        #expect(AxleProcess.readText(prefix + ".key").hasPrefix("axle-ed25519-private fleet-a "))

        var info = stat()
        stat(prefix + ".key", &info)
        #expect(info.st_mode & 0o777 == 0o600)

        let signed = readBack.sign(Fixture.request())
        #expect(publicKey.isValidSignature(signed.signature, forBody: signed.body))
        #expect(!Fixture.signer.publicKey.isValidSignature(signed.signature, forBody: signed.body))
        // The domain string is part of what is signed: a plain signature of the body does not verify.
        #expect(!publicKey.isValidSignature(signed.signature, forBody: Array("axle-command-v1\n".utf8) + signed.body))
    }

    @Test func writingRefusesToOverwriteEitherFile() throws {
        let directory = try TestDirectory()
        let prefix = directory.path + "/k"
        try AxleProcess.writeFile(prefix + ".pub", "keep me\n")
        let key = try CommandSigningKey.generate(keyID: "k")
        do {
            try key.write(prefix: prefix)
            Issue.record("overwrote an existing .pub")
        } catch {
            #expect(error.description.contains("k.pub already exists"))
        }
        #expect(AxleProcess.readText(prefix + ".pub") == "keep me\n")
        #expect(AxleProcess.readText(prefix + ".key") == "")  // nothing half-written
    }

    @Test func badKeyFilesGiveClearErrors() throws {
        let directory = try TestDirectory()
        let key = try CommandSigningKey.generate(keyID: "k")
        let cases: [(String, String)] = [
            (key.fileText, "this is a private key file"),
            ("ssh-ed25519 AAAA user@host\n", "starts with \"ssh-ed25519\""),
            ("axle-ed25519-public k AAAA\n", "not the base64 of 32 bytes"),
            ("axle-ed25519-public bad/id \(String(key.publicKey.fileText.split(separator: " ")[2]))", "key id \"bad/id\" is not valid"),
            ("axle-ed25519-public k\n", "expected one line"),
            ("", "expected one line"),
        ]
        for (index, (text, message)) in cases.enumerated() {
            let path = try AxleProcess.writeFile(directory.path + "/case\(index).pub", text)
            do {
                _ = try CommandPublicKey(contentsOfFile: path)
                Issue.record("read \(text)")
            } catch {
                #expect(error.description.hasPrefix(path + ": "), "\(error.description)")
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
        do {
            _ = try CommandSigningKey(contentsOfFile: directory.path + "/missing.key")
            Issue.record("read a missing file")
        } catch {
            #expect(error.description.contains("missing.key"))
            #expect(error.description.contains("No such file"))
        }
        let publicPath = try AxleProcess.writeFile(directory.path + "/p.pub", key.publicKey.fileText)
        #expect(throws: KeyFileError.self) { try CommandSigningKey(contentsOfFile: publicPath) }
        #expect(throws: KeyFileError.self) { try CommandSigningKey.generate(keyID: "") }
        #expect(throws: KeyFileError.self) { try CommandPublicKey(keyID: "k", rawRepresentation: [1, 2, 3]) }
    }
    // Issue 17, defect 7: key files others could read or replace were accepted silently.
    @Test func aSigningKeyOthersCanReadIsRefusedWithTheFix() throws {
        let directory = try TestDirectory()
        let prefix = directory.path + "/fleet"
        try CommandSigningKey.generate(keyID: "fleet").write(prefix: prefix)
        for mode: mode_t in [0o644, 0o666, 0o604, 0o640, 0o620] {
            chmod(prefix + ".key", mode)
            do {
                _ = try CommandSigningKey(contentsOfFile: prefix + ".key")
                Issue.record("a signing key at \(String(mode, radix: 8)) was accepted")
            } catch {
                let expected = "Permissions 0\(String(mode, radix: 8)) for '\(prefix).key' are too open"
                #expect(error.description.contains(expected), "\(error.description)")
                #expect(error.description.contains("Run: chmod 600 \(prefix).key"), "\(error.description)")
            }
        }
        chmod(prefix + ".key", 0o644)
        #expect(throws: KeyFileError.self) { try CommandSigningKey(contentsOfFile: prefix + ".key") }
        for mode: mode_t in [0o600, 0o400] {
            chmod(prefix + ".key", mode)
            #expect(try CommandSigningKey(contentsOfFile: prefix + ".key").keyID == "fleet")
        }
    }

    @Test func aTrustKeyOthersCanReplaceIsRefusedButAReadableOneIsFine() throws {
        let directory = try TestDirectory()
        let prefix = directory.path + "/fleet"
        try CommandSigningKey.generate(keyID: "fleet").write(prefix: prefix)
        for mode: mode_t in [0o666, 0o646, 0o664] {
            chmod(prefix + ".pub", mode)
            do {
                _ = try CommandPublicKey(contentsOfFile: prefix + ".pub")
                Issue.record("a trust key at \(String(mode, radix: 8)) was accepted")
            } catch {
                #expect(error.description.contains("Permissions 0\(String(mode, radix: 8)) for '\(prefix).pub' are too open: a trusted key must not be writable by others"), "\(error.description)")
                #expect(error.description.contains("Run: chmod 644 \(prefix).pub"), "\(error.description)")
            }
        }
        for mode: mode_t in [0o644, 0o444, 0o600] {
            chmod(prefix + ".pub", mode)
            #expect(try CommandPublicKey(contentsOfFile: prefix + ".pub").keyID == "fleet")
        }
    }

    @Test func theOwnerRuleFollowsSsh() {
        let me: uid_t = 1000
        // Someone else's file: they could replace the key.
        #expect(KeyFileAccess.problem(kind: .trusted, path: "k.pub", mode: 0o644, owner: 1001, processUser: me)?
            .contains("owned by uid 1001") == true)
        // Root's 0644 trust key in /etc is fine.
        #expect(KeyFileAccess.problem(kind: .trusted, path: "k.pub", mode: 0o644, owner: 0, processUser: me) == nil)
        // root:axled 0640: the administrator owns the private key, the service's group reads it.
        #expect(KeyFileAccess.problem(kind: .secret, path: "tls.key", mode: 0o640, owner: 0, processUser: me) == nil)
        #expect(KeyFileAccess.problem(kind: .secret, path: "tls.key", mode: 0o644, owner: 0, processUser: me) != nil)
        #expect(KeyFileAccess.problem(kind: .secret, path: "tls.key", mode: 0o660, owner: 0, processUser: me) != nil)
        // A key the reader owns must be theirs alone, as ssh requires.
        #expect(KeyFileAccess.problem(kind: .secret, path: "tls.key", mode: 0o640, owner: me, processUser: me)?
            .contains("Run: chmod 600 tls.key") == true)
        #expect(KeyFileAccess.problem(kind: .secret, path: "tls.key", mode: 0o640, owner: 0, processUser: 0) != nil)
    }
}
