//! Real-world user agents (`--ua real`): the Electron desktop app, the
//! Android app (okhttp, with the Dalvik prefix or without), the iOS app
//! (its own string or the CFNetwork/Darwin default) and browsers. The app
//! token (`acme-desktop`, `AcmeVoice-Mobile`, `AcmeVoice`) carries the
//! app's version; the truth names the app by that token.
//!
//! Drawn from a random stream of its own, so the traffic is the same with
//! either style; only the strings change.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The app token of the desktop app in either style.
pub const DESKTOP_APP: &str = "acme-desktop";
/// The mobile app token of the simple style (iOS and Android alike).
pub const SIMPLE_MOBILE_APP: &str = "acme-mobile";
pub const ANDROID_APP: &str = "AcmeVoice-Mobile";
pub const IOS_APP: &str = "AcmeVoice";

/// Electron build of each desktop release line: (version prefix, Chrome,
/// Electron).
const ELECTRON: [(&str, &str, &str); 4] = [
    ("4.0.", "114.0.0.0", "25.3.2"),
    ("4.1.", "118.0.0.0", "27.0.4"),
    ("4.2.", "120.0.0.0", "28.1.0"),
    ("4.3.", "122.0.0.0", "29.1.5"),
];

const DESKTOP_OS: [(&str, f64); 3] = [
    ("Windows NT 10.0; Win64; x64", 0.72),
    ("Macintosh; Intel Mac OS X 10_15_7", 0.24),
    ("X11; Linux x86_64", 0.04),
];

/// (Android release, model, build id or "").
const ANDROID: [(&str, &str, &str); 6] = [
    ("14", "Pixel 7", ""),
    ("14", "Pixel 8 Pro", "AP1A.240305.019"),
    ("14", "SM-S918B", "UP1A.231005.007"),
    ("13", "SM-A546B", "TP1A.220624.014"),
    ("13", "moto g54 5G", ""),
    ("12", "Redmi Note 11", "SKQ1.211103.001"),
];

/// (iOS, device, CFNetwork, Darwin).
const IOS: [(&str, &str, &str, &str); 5] = [
    ("17.5", "iPhone", "1496.0.7", "23.5.0"),
    ("17.4", "iPhone", "1494.0.7", "23.4.0"),
    ("18.1", "iPhone", "1568.200.51", "24.1.0"),
    ("16.7", "iPhone", "1410.1", "22.6.0"),
    ("17.5", "iPad", "1496.0.7", "23.5.0"),
];

fn weighted(rng: &mut ChaCha8Rng, items: &[(&'static str, f64)]) -> &'static str {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

pub fn desktop(rng: &mut ChaCha8Rng, version: &str) -> String {
    let (_, chrome, electron) = ELECTRON
        .iter()
        .find(|(p, ..)| version.starts_with(p))
        .copied()
        .unwrap_or(ELECTRON[2]);
    let os = weighted(rng, &DESKTOP_OS);
    format!(
        "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) {DESKTOP_APP}/{version} Chrome/{chrome} Electron/{electron} Safari/537.36"
    )
}

pub fn android(rng: &mut ChaCha8Rng, version: &str) -> String {
    let (rel, model, build) = ANDROID[rng.random_range(0..ANDROID.len())];
    if rng.random_bool(0.7) {
        let build = if build.is_empty() {
            String::new()
        } else {
            format!(" Build/{build}")
        };
        format!("Dalvik/2.1.0 (Linux; U; Android {rel}; {model}{build}) {ANDROID_APP}/{version}")
    } else {
        format!("{ANDROID_APP}/{version} (Android {rel}; {model}) okhttp/4.12.0")
    }
}

pub fn ios(rng: &mut ChaCha8Rng, version: &str) -> String {
    let (os, device, cf, darwin) = IOS[rng.random_range(0..IOS.len())];
    if rng.random_bool(0.6) {
        let scale = if device == "iPad" { "2.00" } else { "3.00" };
        format!("{IOS_APP}/{version} ({device}; iOS {os}; Scale/{scale})")
    } else {
        format!("{IOS_APP}/{version} CFNetwork/{cf} Darwin/{darwin}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn strings_carry_the_app_token_and_version() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let d = desktop(&mut rng, "4.2.1");
            assert!(
                d.contains(" acme-desktop/4.2.1 Chrome/120.0.0.0 Electron/28.1.0 "),
                "{d}"
            );
            let a = android(&mut rng, "5.0.1");
            assert!(a.contains("AcmeVoice-Mobile/5.0.1"), "{a}");
            let i = ios(&mut rng, "5.1.0");
            assert!(i.starts_with("AcmeVoice/5.1.0 "), "{i}");
        }
    }
}
