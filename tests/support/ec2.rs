//! Minimal EC2 calls against moto (VPCs and subnets for DB subnet groups), as plain HTTP Query
//! API requests: no EC2 SDK in the build just for tests.

use std::io::{Read, Write};

/// One EC2 Query API call to moto (plain HTTP: moto routes by the credential scope and does
/// not check signatures). Returns the response body.
pub fn ec2(endpoint: &str, region: &str, params: &[(&str, &str)]) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut body = String::from("Version=2016-11-15");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", v.replace('/', "%2F")));
    }
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDMOTO/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to moto");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "EC2 call failed: {response}"
    );
    response
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_owned()
}

/// A VPC with two subnets in moto; returns (vpc id, subnet ids).
pub fn vpc_with_subnets(endpoint: &str, region: &str) -> (String, Vec<String>) {
    let vpc = xml_value(
        &ec2(endpoint, region, &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")]),
        "vpcId",
    );
    let subnets = ["10.0.1.0/24", "10.0.2.0/24"]
        .iter()
        .zip(["a", "b"])
        .map(|(cidr, az)| {
            let zone = format!("{region}{az}");
            let xml = ec2(
                endpoint,
                region,
                &[
                    ("Action", "CreateSubnet"),
                    ("VpcId", &vpc),
                    ("CidrBlock", cidr),
                    ("AvailabilityZone", &zone),
                ],
            );
            xml_value(&xml, "subnetId")
        })
        .collect();
    (vpc, subnets)
}
