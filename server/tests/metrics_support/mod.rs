//! Reading `/metrics`: a scrape, parsed into samples.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use reqwest::{Client, StatusCode};

/// One line of the Prometheus text format: a series and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The text as served.
    pub text: String,
    /// Every sample.
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// `GET {base}/metrics`, which must answer 200 in the text format.
    pub async fn get(client: &Client, base: &str) -> Self {
        let response = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        Self::parse(response.text().await.unwrap())
    }

    /// Parses the Prometheus text format (label values without escaped quotes).
    pub fn parse(text: String) -> Self {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value = match value {
                "+Inf" => f64::INFINITY,
                value => value.parse().unwrap(),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').unwrap();
                    let labels = inner
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once("=\"").unwrap();
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Self { text, samples }
    }

    /// The sum of the samples of `name` whose labels include `labels` (0 when none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|sample| sample.value).sum()
    }

    /// Whether a sample of `name` with `labels` exists.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_some()
    }

    /// The one value of `name` with `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<_> = self.matching(name, labels).collect();
        assert_eq!(found.len(), 1, "{name} {labels:?} in:\n{}", self.text);
        found[0].value
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
        })
    }
}
