//! Service-account JWTs: decoding, the claims STS reads, and RS256 signature verification against
//! the issuer's JSON Web Key Set. Pure: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier as _;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;

/// The JOSE header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Header {
    /// The signing algorithm (`RS256` for service-account tokens).
    pub alg: String,
    /// The id of the signing key in the issuer's JWKS.
    #[serde(default)]
    pub kid: Option<String>,
}

/// The claims STS and the trust policy look at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The issuer URL.
    pub iss: String,
    /// The subject: `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
    /// `aud` as a list (a JWT may carry a single string or a list).
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, in unix seconds.
    pub exp: i64,
    /// Issued at, in unix seconds.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not valid before, in unix seconds.
    #[serde(default)]
    pub nbf: Option<i64>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Claims {
    /// The issuer as IAM names it: the URL without `https://` (the OIDC provider ARN's resource
    /// part and the condition keys' prefix).
    pub fn issuer_host_path(&self) -> &str {
        self.iss.strip_prefix("https://").unwrap_or(&self.iss).trim_end_matches('/')
    }
}

/// A decoded (not yet verified) token.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// The decoded header.
    pub header: Header,
    /// The decoded claims.
    pub claims: Claims,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    /// Splits and decodes a compact JWS; checks nothing about the signature.
    pub fn decode(token: &str) -> Result<Jwt, String> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(format!("is not a JWT: it has {} dot-separated parts, not 3", parts.len()));
        };
        let part = |name: &str, text: &str| {
            URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|e| format!("has a {name} that is not base64url: {e}"))
        };
        let header_json: Header =
            serde_json::from_slice(&part("header", header)?).map_err(|e| format!("has a header that is not a JOSE header: {e}"))?;
        let claims: Claims =
            serde_json::from_slice(&part("payload", payload)?).map_err(|e| format!("has claims without the expected iss/sub/aud/exp: {e}"))?;
        Ok(Jwt { header: header_json, claims, signing_input: format!("{header}.{payload}"), signature: part("signature", signature)? })
    }

    /// Verifies the RS256 signature with the key of the token's `kid` (or the set's only RSA key
    /// when the token names none). Returns the key id used.
    pub fn verify_rs256(&self, jwks: &Jwks) -> Result<String, String> {
        if self.header.alg != "RS256" {
            return Err(format!("is signed with `{}`; service-account tokens must be RS256", self.header.alg));
        }
        let key = jwks.select(self.header.kid.as_deref())?;
        let public = key.public_key()?;
        let signature = Signature::try_from(self.signature.as_slice()).map_err(|e| format!("has a malformed RS256 signature: {e}"))?;
        VerifyingKey::<Sha256>::new(public).verify(self.signing_input.as_bytes(), &signature).map_err(|_| {
            format!(
                "has a signature that does not verify with key `{}` of the issuer's JWKS (tampered, or signed by another key)",
                key.kid.as_deref().unwrap_or("(no kid)")
            )
        })?;
        Ok(key.kid.clone().unwrap_or_default())
    }
}

/// One JSON Web Key (only RSA keys are usable here).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    /// The key type (`RSA`).
    pub kty: String,
    /// The key id tokens name in their header.
    #[serde(default)]
    pub kid: Option<String>,
    /// The algorithm the key is for, if said (`RS256`).
    #[serde(default)]
    pub alg: Option<String>,
    /// What the key is for, if said (`sig`); `use` in JSON.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// The RSA modulus (base64url).
    #[serde(default)]
    pub n: Option<String>,
    /// The RSA public exponent (base64url).
    #[serde(default)]
    pub e: Option<String>,
}

impl Jwk {
    fn public_key(&self) -> Result<RsaPublicKey, String> {
        let kid = self.kid.as_deref().unwrap_or("(no kid)");
        if self.kty != "RSA" {
            return Err(format!("names key `{kid}`, which is a {} key, not RSA", self.kty));
        }
        if let Some(alg) = &self.alg
            && alg != "RS256"
        {
            return Err(format!("names key `{kid}`, which is for `{alg}`, not RS256"));
        }
        if let Some(u) = &self.use_
            && u != "sig"
        {
            return Err(format!("names key `{kid}`, whose use is `{u}`, not `sig`"));
        }
        let number = |name: &str, v: &Option<String>| -> Result<BigUint, String> {
            let text = v.as_deref().ok_or_else(|| format!("names key `{kid}`, which has no `{name}`"))?;
            let bytes =
                URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|e| format!("names key `{kid}`, whose `{name}` is not base64url: {e}"))?;
            Ok(BigUint::from_bytes_be(&bytes))
        };
        RsaPublicKey::new(number("n", &self.n)?, number("e", &self.e)?)
            .map_err(|e| format!("names key `{kid}`, which is not a usable RSA public key: {e}"))
    }
}

/// An issuer's key set (`/openid/v1/jwks`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a JWKS document.
    pub fn parse(text: &str) -> Result<Jwks, String> {
        serde_json::from_str(text).map_err(|e| format!("is not a JSON Web Key Set: {e}"))
    }

    fn select(&self, kid: Option<&str>) -> Result<&Jwk, String> {
        let known = || self.keys.iter().map(|k| k.kid.as_deref().unwrap_or("(no kid)")).collect::<Vec<_>>().join(", ");
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or_else(|| format!("names key `{kid}`, which the issuer's JWKS does not have (it has: {})", known())),
            None => {
                let rsa: Vec<&Jwk> = self.keys.iter().filter(|k| k.kty == "RSA").collect();
                match rsa[..] {
                    [only] => Ok(only),
                    _ => Err(format!("names no key (`kid`) and the issuer's JWKS has {} RSA keys ({})", rsa.len(), known())),
                }
            }
        }
    }
}

/// What the claims must say for the pod's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The `sub` the token must carry.
    pub subject: &'a str,
    /// An audience the token's `aud` must list.
    pub audience: &'a str,
    /// The issuer the cluster's discovery document announces, when known.
    pub issuer: Option<&'a str>,
}

/// Checks the claims at `now` (unix seconds). STS rejects the token otherwise.
pub fn check_claims(claims: &Claims, expected: &Expected<'_>, now: i64) -> Result<(), String> {
    if !claims.iss.starts_with("https://") {
        return Err(format!("has issuer `{}`; IAM OIDC providers need an https:// issuer", claims.iss));
    }
    if let Some(issuer) = expected.issuer
        && claims.iss.trim_end_matches('/') != issuer.trim_end_matches('/')
    {
        return Err(format!("has issuer `{}`, but the cluster's discovery document announces `{issuer}`", claims.iss));
    }
    if claims.sub != expected.subject {
        return Err(format!("has sub `{}`, not `{}`", claims.sub, expected.subject));
    }
    if !claims.aud.iter().any(|a| a == expected.audience) {
        return Err(format!("has aud {:?}, without `{}`", claims.aud, expected.audience));
    }
    if claims.exp <= now {
        return Err(format!("expired {} s ago (exp {})", now - claims.exp, claims.exp));
    }
    // A minute of leeway for clock skew between the API server and this machine.
    if let Some(nbf) = claims.nbf
        && nbf > now + 60
    {
        return Err(format!("is not valid before {nbf}, {} s from now", nbf - now));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real token from kube-apiserver 1.20 (tests/kube, issuer TEST_ISSUER), for ServiceAccount
    // probe/app, audience sts.amazonaws.com, and that server's JWKS.
    const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im9wVEJ3S21PM2N2MWFYcGZFcktkMjg5cjRKMDdycFYtaUlKSXlwbk1KamsifQ.eyJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXSwiZXhwIjoxNzk1ODk2ODA2LCJpYXQiOjE3OTU4OTMyMDYsImlzcyI6Imh0dHBzOi8vb2lkYy5la3MudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vaWQvU1RSQUtFVEVTVDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIiwia3ViZXJuZXRlcy5pbyI6eyJuYW1lc3BhY2UiOiJwcm9iZSIsInNlcnZpY2VhY2NvdW50Ijp7Im5hbWUiOiJhcHAiLCJ1aWQiOiIwMmI4YTc4My0yZjhlLTRmYjktYTk3Yi02ODE3MWQ4Njk1MWIifX0sIm5iZiI6MTc5NTg5MzIwNiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OnByb2JlOmFwcCJ9.AWARLSpzXf0Xvw9yQf9tCsAiLja6tFFugwG1hAO-J6zb9uOv08IJC5UY310a4g8RE4S5u2Tl2Ha6U-auh0vLbfKTOMnjitLyU_p-VFKf6IGDyFyKDtF_XBA1zXPXEz_DHMarsh5IFTnXN5mr-EdiDL9ZsR27cPGQgsUScxTPv_zcOBwYByXWlBuHzCxMYj-pbBiKBK3hQQQhZ3pZuQZCAqd1fHDZDby_bqDsY_Yg7ScCNoZRa2ZNidJJPRgAtxztGlu5q_oIxph2luvtwGZad6FFeZfC3BxwRATGv4ihpVHs4JsAn9_TWOztBwnTbX2bCsNczomp40iLVsWSeNoqRw";
    const JWKS: &str = r#"{"keys":[{"use":"sig","kty":"RSA","kid":"opTBwKmO3cv1aXpfErKd289r4J07rpV-iIJIypnMJjk","alg":"RS256","n":"xWLF-G-MA6g7-VIRHWaaAyT1XIRwBNepz1fBHZZUOWocUMod13CLT7V63pTYEC4_ngO9XCXG5ZDNYL0WQnzhBX_Z4zptoG-SLleGdVoMc4aeWC5T-tTHz_0v3Wwhg5JHS7NpoXNuszVnVNsOZTQf-tDsyg1VYET38jvdREaJu0JMR9UvzEeZTsjeNjbczgGBkrTUo13bXmmBqLehAc27RLxU7p7jOsCjgnXYBGiopJa6EBOAJaVDFzs1OsvFIcE_Waqrd5iJgbP2rQMv_-E4gUeSdmBsLYQAbHvivxRlciZpEGENabCluGABz_MghDDwLZnX99GuLWr-X0oWRMOrbQ","e":"AQAB"}]}"#;
    const KID: &str = "opTBwKmO3cv1aXpfErKd289r4J07rpV-iIJIypnMJjk";
    const ISSUER: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/STRAKETEST00000000000000000000000";
    /// Between the token's iat and exp.
    const NOW: i64 = 1_795_893_300;

    fn jwks() -> Jwks {
        Jwks::parse(JWKS).unwrap()
    }

    fn expected() -> Expected<'static> {
        Expected { subject: "system:serviceaccount:probe:app", audience: "sts.amazonaws.com", issuer: Some(ISSUER) }
    }

    /// The token with its payload replaced (header and signature kept).
    fn with_payload(token: &str, payload: &str) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload), parts[2])
    }

    fn payload(token: &str) -> String {
        let part = token.split('.').nth(1).unwrap();
        String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_real_service_account_token_decodes_and_verifies() {
        let jwt = Jwt::decode(TOKEN).unwrap();
        assert_eq!(jwt.header.alg, "RS256");
        assert_eq!(jwt.claims.iss, ISSUER);
        assert_eq!(jwt.claims.sub, "system:serviceaccount:probe:app");
        assert_eq!(jwt.claims.aud, vec!["sts.amazonaws.com".to_string()]);
        assert_eq!(jwt.claims.exp, 1_795_896_806);
        assert_eq!(jwt.claims.issuer_host_path(), "oidc.eks.us-east-1.amazonaws.com/id/STRAKETEST00000000000000000000000");
        assert_eq!(jwt.verify_rs256(&jwks()).unwrap(), KID);
        check_claims(&jwt.claims, &expected(), NOW).unwrap();
    }

    #[test]
    fn a_tampered_signature_fails_verification() {
        let (rest, signature) = TOKEN.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[17] ^= 0x01;
        let tampered = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        let err = Jwt::decode(&tampered).unwrap().verify_rs256(&jwks()).unwrap_err();
        assert!(err.contains("does not verify") && err.contains(KID), "{err}");
    }

    #[test]
    fn tampered_claims_fail_verification() {
        // Another service account's subject under the original signature.
        let forged = payload(TOKEN).replace("system:serviceaccount:probe:app", "system:serviceaccount:probe:admin");
        let jwt = Jwt::decode(&with_payload(TOKEN, &forged)).unwrap();
        assert_eq!(jwt.claims.sub, "system:serviceaccount:probe:admin");
        let err = jwt.verify_rs256(&jwks()).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
    }

    #[test]
    fn a_token_signed_by_another_key_fails_verification() {
        let other = JWKS.replace(&jwks().keys[0].n.clone().unwrap(), OTHER_N);
        let err = Jwt::decode(TOKEN).unwrap().verify_rs256(&Jwks::parse(&other).unwrap()).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
    }

    #[test]
    fn an_unknown_kid_or_algorithm_is_rejected() {
        let no_key = JWKS.replace(KID, "rotated-away");
        let err = Jwt::decode(TOKEN).unwrap().verify_rs256(&Jwks::parse(&no_key).unwrap()).unwrap_err();
        assert!(err.contains(&format!("names key `{KID}`")) && err.contains("rotated-away"), "{err}");

        // alg "none" with the signature stripped: never accepted.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#);
        let body = TOKEN.split('.').nth(1).unwrap();
        let err = Jwt::decode(&format!("{header}.{body}.")).unwrap().verify_rs256(&jwks()).unwrap_err();
        assert!(err.contains("`none`"), "{err}");
    }

    #[test]
    fn claims_are_checked_against_the_pod_identity() {
        let claims = Jwt::decode(TOKEN).unwrap().claims;
        let err = check_claims(&claims, &Expected { subject: "system:serviceaccount:probe:other", ..expected() }, NOW).unwrap_err();
        assert!(err.contains("system:serviceaccount:probe:app"), "{err}");
        let err = check_claims(&claims, &Expected { audience: "vault", ..expected() }, NOW).unwrap_err();
        assert!(err.contains("vault"), "{err}");
        let err = check_claims(&claims, &Expected { issuer: Some("https://elsewhere"), ..expected() }, NOW).unwrap_err();
        assert!(err.contains("elsewhere"), "{err}");
        let err = check_claims(&claims, &expected(), claims.exp + 5).unwrap_err();
        assert!(err.contains("expired 5 s ago"), "{err}");
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        assert!(Jwt::decode("abc").unwrap_err().contains("3"));
        assert!(Jwt::decode("a.b.c").unwrap_err().contains("header"));
        let single_aud = with_payload(TOKEN, &payload(TOKEN).replace(r#"["sts.amazonaws.com"]"#, r#""sts.amazonaws.com""#));
        assert_eq!(Jwt::decode(&single_aud).unwrap().claims.aud, vec!["sts.amazonaws.com".to_string()]);
    }

    /// The modulus of another 2048-bit key (openssl genrsa).
    const OTHER_N: &str = "yNhprctYyeP-y5zvPIbLIeWGnFj634P-Kjpxb0Z6ZG5cpHeVR5VF-NKCSutDjzJ3gl4u-w0P8g0jfqDTXPne8QuNHDqRbzNe0JfSmzsoC1cCBHv1Tt1KL1tNtsYBCnODlA4NdkJzeEb4waTOTvku8IQD1eVfytyngaA3dIz04LUhBxvXHp2mtOr03Cm4YvafuREpUIU-EFEDmVMhA0LZGqdAWmmkgUzkOUBckfrJODgp7XvGiiwMATs9I7C3mC_1piq3xSTmgOGv7TWnYcp5rTk-EZoEFImVg827d5gz425P7ZiuED8611e2xReMtiPcw0WY4q-qlpBpfFJFi4whiQ";
}
