//! What a token's header selects: its `alg` and `kid`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;

/// What selects the verifying keys: a header's `alg` and `kid`.
#[derive(Clone, Debug)]
pub(super) struct HeaderSelector {
    pub(super) alg: jsonwebtoken::Algorithm,
    pub(super) kid: Option<String>,
}

impl HeaderSelector {
    /// Parses a header segment as `jsonwebtoken::decode` did, into its full `Header`, so
    /// that whatever it refused (an `alg` it does not know, `none` in any case included, a
    /// field of the wrong type, a duplicate name, padding or whitespace in the base64) is
    /// refused here too. Unlike jsonwebtoken, it also refuses a header with `crit` or
    /// `b64` (see [`Extensions`]).
    pub(super) fn parse(encoded: &str) -> Option<Self> {
        let json = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        let header: Header = serde_json::from_slice(&json).ok()?;
        let extensions: Extensions = serde_json::from_slice(&json).ok()?;
        if extensions.crit || extensions.b64 {
            return None;
        }
        Some(Self {
            alg: header.alg,
            kid: header.kid,
        })
    }
}

/// Which JWS extensions a header asks for. None is implemented, so a header naming one is
/// refused: `crit` lists extensions the verifier must understand or else refuse the token
/// (RFC 7515 section 4.1.11), and it is refused in any form (an empty list, `null` or
/// another type are invalid anyway); `b64` (RFC 7797) changes the bytes the signature
/// covers, so it is refused whatever its value. Parsed from the header's JSON apart from
/// [`Header`], whose `crit` reads `null` as absent. Only headers other than the ring's
/// own are parsed, so the hot path never pays for it.
#[derive(serde::Deserialize)]
struct Extensions {
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    b64: bool,
}

/// `true` for a field that is present, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(deserializer).map(|_| true)
}

/// A header segment that the ring's keys write, byte for byte as jsonwebtoken encodes it,
/// and what [`HeaderSelector::parse`] made of it when the ring was built. A token whose
/// header segment is one of these skips the parse.
#[derive(Clone, Debug)]
pub(super) struct KnownHeader {
    pub(super) encoded: String,
    pub(super) selector: HeaderSelector,
}
