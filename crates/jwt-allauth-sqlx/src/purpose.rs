//! Purpose-token helpers shared by both backends.

use subtle::ConstantTimeEq;

/// The id of the candidate whose hash equals `token_hash`. Every candidate is compared,
/// each in constant time, so the timing says nothing about which bytes matched.
pub(crate) fn find_matching(candidates: &[(i64, Vec<u8>)], token_hash: &[u8; 32]) -> Option<i64> {
    let mut found = None;
    for (id, hash) in candidates {
        if bool::from(hash.as_slice().ct_eq(token_hash.as_slice())) {
            found = Some(*id);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::find_matching;

    #[test]
    fn finds_only_the_equal_hash() {
        let candidates = vec![(1, vec![1u8; 32]), (2, vec![2u8; 32]), (3, vec![2u8; 31])];
        assert_eq!(find_matching(&candidates, &[2u8; 32]), Some(2));
        assert_eq!(find_matching(&candidates, &[3u8; 32]), None);
        assert_eq!(find_matching(&[], &[3u8; 32]), None);
    }
}
