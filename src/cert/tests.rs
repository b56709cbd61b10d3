//! The decoder against certificates `ssh-keygen -s` made (testdata/; the
//! expected values are what `ssh-keygen -Lf` and `-lf` print for them), and
//! never panicking on anything else.
#![forbid(unsafe_code)]

use super::*;
use proptest::prelude::*;

/// `TYPE BASE64 COMMENT` of a testdata file.
fn blob_of(pub_line: &str) -> Vec<u8> {
    let b64 = pub_line.split(' ').nth(1).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

const ED25519: &str = include_str!("testdata/ed25519-cert.pub");
const ECDSA256: &str = include_str!("testdata/ecdsa256-cert.pub");
const ECDSA384: &str = include_str!("testdata/ecdsa384-cert.pub");
const ECDSA521: &str = include_str!("testdata/ecdsa521-cert.pub");
const RSA: &str = include_str!("testdata/rsa-cert.pub");
const SK_ED25519: &str = include_str!("testdata/sked25519-cert.pub");
const SK_ECDSA: &str = include_str!("testdata/skecdsa-cert.pub");
const HOST: &str = include_str!("testdata/host-cert.pub");
const CA_ED25519: &str = include_str!("testdata/ca-ed25519.pub");

/// ssh-keygen -lf testdata/ca-ed25519.pub, testdata/ca-rsa.pub
const CA_ED: &str = "SHA256:dVzC3pHebssQTrg7Z5ueBKrBAO7NHyaB9FTI7Az85Og";
const CA_RSA: &str = "SHA256:MaeltTSzVnj+lRoiJHMHWwkoYxcxeMbE9/o8b5Gp9Os";

/// (file, key fingerprint, serial, key id, principals, after, before, CA)
type Expected<'a> = (
    &'a str,
    &'a str,
    u64,
    &'a str,
    &'a [&'a str],
    u64,
    u64,
    &'a str,
);

#[test]
fn decodes_what_ssh_keygen_signed() {
    let table: [Expected; 7] = [
        (
            ED25519,
            "SHA256:UWnkNVAd6PZ+xaAmQXbBoM458NnOO552EEuqfRsRm+M",
            7,
            "alice@example.com",
            &["alice", "ops"],
            0,
            FOREVER,
            CA_ED,
        ),
        (
            ECDSA256,
            "SHA256:uc1BiG03qk1J8oDPk65L4wQ9ISO8oAVLMZma6qvviBE",
            1,
            "carol",
            &["carol", "db-admins"],
            0,
            FOREVER,
            CA_RSA,
        ),
        (
            ECDSA384,
            "SHA256:F/pl1jsXC5JufcHkWQjFq6zyTtHp0MQqJt6tMWMg7wM",
            u64::MAX,
            "bob 384",
            &["bob"],
            1_577_836_800,
            4_102_358_400,
            CA_ED,
        ),
        (
            ECDSA521,
            "SHA256:ClFEzXchl4PDJxkr7iJzHhCmQO2kxVAxpPtOehILSy0",
            0,
            "dave",
            &[],
            0,
            FOREVER,
            CA_ED,
        ),
        (
            RSA,
            "SHA256:2Po7dukFTrCuYCo/XwkFuriZb22Rbn/MIROY7aFPDl4",
            99,
            "erin",
            &["erin"],
            1_577_836_800,
            1_577_923_200,
            CA_RSA,
        ),
        (
            SK_ED25519,
            "SHA256:/p0CbeE3dk2SyW1OXXsThGc12ezDVD8eGw2/vtztDfk",
            5,
            "sk",
            &["frank"],
            0,
            FOREVER,
            CA_ED,
        ),
        (
            SK_ECDSA,
            "SHA256:Sq6FPgsPWZc3RXSXKFq4uzEhPEwaHZCAoX46/7Q5024",
            6,
            "sk2",
            &["gina"],
            0,
            FOREVER,
            CA_ED,
        ),
    ];
    for (file, fp, serial, id, principals, after, before, ca) in table {
        let cert = decode(&blob_of(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            cert,
            Certificate {
                key_fingerprint: fp.into(),
                serial,
                key_id: id.as_bytes().to_vec(),
                principals: principals.iter().map(|p| p.to_string()).collect(),
                valid_after: after,
                valid_before: before,
                ca: ca.into(),
            },
            "{file}"
        );
        let b64 = file.split(' ').nth(1).unwrap();
        assert_eq!(decode_base64(b64.as_bytes()).as_ref(), Ok(&cert));
    }
    assert_eq!(decode(&blob_of(HOST)), Err(CertError::NotUser(2)));
    assert_eq!(decode_base64(b"AAAA!"), Err(CertError::NotBase64));
}

#[test]
fn validity_is_checked_against_now() {
    let cert = decode(&blob_of(RSA)).unwrap();
    assert_eq!(
        cert.check_validity(1_577_836_799),
        Err(CertError::NotYetValid(1_577_836_800))
    );
    assert_eq!(cert.check_validity(1_577_836_800), Ok(()));
    assert_eq!(cert.check_validity(1_577_923_199), Ok(()));
    assert_eq!(
        cert.check_validity(1_577_923_200),
        Err(CertError::Expired(1_577_923_200))
    );
    assert_eq!(
        CertError::Expired(1_577_923_200).to_string(),
        "expired at 2020-01-02T00:00:00Z"
    );
    assert_eq!(
        cert.end(),
        Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_923_200))
    );
    let forever = decode(&blob_of(ED25519)).unwrap();
    assert_eq!(forever.check_validity(u64::MAX - 1), Ok(()));
    assert_eq!(forever.end(), None);
}

#[test]
fn utc_times() {
    for (t, text) in [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (4_102_358_400, "2099-12-31T00:00:00Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
        (253_402_300_800, "253402300800 seconds after the epoch"),
    ] {
        assert_eq!(utc(t), text);
    }
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_string(&mut out, s);
    out
}

/// An Ed25519 user certificate as ssh-keygen lays it out (signed by the
/// testdata CA's key, with a signature no one checks here).
fn build(kind: u32, principals: &[&[u8]], key_id: &[u8], before: u64) -> Vec<u8> {
    let mut b = string(b"ssh-ed25519-cert-v01@openssh.com");
    b.extend(string(&[7; 32])); // nonce
    b.extend(string(&[9; 32])); // key
    b.extend(42u64.to_be_bytes());
    put_u32(&mut b, kind);
    b.extend(string(key_id));
    let list: Vec<u8> = principals.iter().flat_map(|p| string(p)).collect();
    b.extend(string(&list));
    b.extend(0u64.to_be_bytes());
    b.extend(before.to_be_bytes());
    b.extend(string(b""));
    b.extend(string(&[string(b"permit-pty"), string(b"")].concat()));
    b.extend(string(b""));
    b.extend(string(&blob_of(CA_ED25519)));
    b.extend(string(&[string(b"ssh-ed25519"), string(&[1; 64])].concat()));
    b
}

#[test]
fn refuses_what_sshd_would_not_accept_or_a_record_cannot_carry() {
    assert!(decode(&build(1, &[b"alice", b"bob"], b"id", FOREVER)).is_ok());
    let long = "p".repeat(256);
    let many: Vec<Vec<u8>> = (0..257).map(|i| format!("{i:02x}").into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let wide: Vec<Vec<u8>> = (0..100).map(|i| format!("p{i:09}").into_bytes()).collect();
    let wide: Vec<&[u8]> = wide.iter().map(Vec::as_slice).collect();
    let table: Vec<(Vec<u8>, CertError)> = vec![
        (build(2, &[b"a"], b"id", FOREVER), CertError::NotUser(2)),
        (build(0, &[b"a"], b"id", FOREVER), CertError::NotUser(0)),
        (
            build(1, &[b"a", b""], b"id", FOREVER),
            CertError::EmptyPrincipal,
        ),
        (
            build(1, &[b"a", b"b", b"a"], b"id", FOREVER),
            CertError::DuplicatePrincipal("a".into()),
        ),
        (
            build(1, &[b"a b"], b"id", FOREVER),
            CertError::BadPrincipal(1),
        ),
        (
            build(1, &[b"a", b"b,c"], b"id", FOREVER),
            CertError::BadPrincipal(2),
        ),
        (
            build(1, &[b"a\nb"], b"id", FOREVER),
            CertError::BadPrincipal(1),
        ),
        (
            build(1, &[b"\xff"], b"id", FOREVER),
            CertError::BadPrincipal(1),
        ),
        (
            build(1, &[long.as_bytes()], b"id", FOREVER),
            CertError::BadPrincipal(1),
        ),
        (
            build(1, &many, b"id", FOREVER),
            CertError::TooManyPrincipals,
        ),
        (
            build(1, &wide, b"id", FOREVER),
            CertError::PrincipalsTooLong,
        ),
        (build(1, &[b"a"], b"i\0d", FOREVER), CertError::KeyIdNul),
        (
            build(1, &[b"a"], &[b'x'; 257], FOREVER),
            CertError::KeyIdTooLong,
        ),
    ];
    for (blob, want) in table {
        assert_eq!(decode(&blob), Err(want.clone()), "{want}");
    }
    // Unknown types, trailing bytes, a key of the wrong size.
    let mut other = build(1, &[b"a"], b"id", FOREVER);
    other[10] = b'X';
    assert!(matches!(decode(&other), Err(CertError::UnknownType(_))));
    let mut trailing = build(1, &[b"a"], b"id", FOREVER);
    trailing.push(0);
    assert_eq!(decode(&trailing), Err(CertError::TrailingData));
    let mut dss = string(b"ssh-dss-cert-v01@openssh.com");
    dss.extend(&build(1, &[b"a"], b"id", FOREVER)[36..]);
    assert_eq!(
        decode(&dss),
        Err(CertError::UnknownType(
            "ssh-dss-cert-v01@openssh.com".into()
        ))
    );
}

#[test]
fn every_truncation_is_refused() {
    for file in [
        ED25519, ECDSA256, ECDSA384, ECDSA521, RSA, SK_ED25519, SK_ECDSA,
    ] {
        let blob = blob_of(file);
        for n in 0..blob.len() {
            assert!(decode(&blob[..n]).is_err(), "{file} cut at {n}");
        }
    }
}

#[test]
fn mpints_in_their_one_encoding() {
    assert!(canonical_positive(&[1]));
    assert!(canonical_positive(&[0, 0x80]));
    assert!(canonical_positive(&[0x7f, 0]));
    assert!(!canonical_positive(&[]));
    assert!(!canonical_positive(&[0]));
    assert!(!canonical_positive(&[0, 1]));
    assert!(!canonical_positive(&[0x80]));
}

#[test]
fn principal_names() {
    for ok in ["alice", "ops@example.com", "db-admins", "é", "a:b"] {
        assert!(is_principal(ok), "{ok}");
    }
    for bad in ["", "a b", "a,b", "a\tb", "a\u{7f}", &"x".repeat(256)] {
        assert!(!is_principal(bad), "{bad:?}");
    }
}

/// Real certificates, each with one kind of damage.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let files = [
        ED25519, ECDSA256, ECDSA384, ECDSA521, RSA, SK_ED25519, SK_ECDSA,
    ];
    (
        0..files.len(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0..4u8,
    )
        .prop_map(move |(file, at, byte, how)| {
            let mut blob = blob_of(files[file]);
            let i = at.index(blob.len());
            match how {
                0 => blob[i] = byte,
                1 => blob.insert(i, byte),
                2 => {
                    blob.remove(i);
                }
                // A length field made huge.
                _ => blob[i] = 0xff,
            }
            blob
        })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(blob in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(&blob);
    }

    #[test]
    fn never_panics_on_damaged_certificates(blob in mutated()) {
        if let Ok(cert) = decode(&blob) {
            // Whatever survives is still something a record can carry.
            prop_assert!(cert.principals.iter().all(|p| is_principal(p)));
            prop_assert!(!cert.key_id.contains(&0));
        }
    }

    #[test]
    fn never_panics_after_a_valid_prefix(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut blob = build(1, &[b"a"], b"id", FOREVER);
        blob.truncate(blob.len() / 2);
        blob.extend(tail);
        let _ = decode(&blob);
    }
}
