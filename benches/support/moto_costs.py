"""moto's own CPU time per RDS call, one kind of call at a time (docs/benchmarks.md, issue #5).

    $CROSSTIE_TOOLS_DIR/venv/bin/python benches/support/moto_costs.py N

Starts moto on 127.0.0.1:5599, makes N calls of each kind (boto3, one after another unless
stated) and prints the wall time and moto's CPU time (from /proc) per kind.
"""

import concurrent.futures
import os
import socket
import subprocess
import sys
import time

import boto3

PORT = 5599
N = int(sys.argv[1])

moto = subprocess.Popen(
    [os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", str(PORT)],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
    env=dict(os.environ, MOTO_RDS_SNAPSHOT_LIMIT="1000000"),
)
while True:
    try:
        socket.create_connection(("127.0.0.1", PORT)).close()
        break
    except OSError:
        time.sleep(0.1)


def moto_cpu():
    fields = open(f"/proc/{moto.pid}/stat").read().split(")")[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


endpoint = dict(
    endpoint_url=f"http://127.0.0.1:{PORT}",
    region_name="eu-west-1",
    aws_access_key_id="bench",
    aws_secret_access_key="bench",
)
ec2 = boto3.client("ec2", **endpoint)
rds = boto3.client("rds", **endpoint)
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnets = [
    ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"eu-west-1{zone}")[
        "Subnet"
    ]["SubnetId"]
    for i, zone in enumerate("ab")
]


def measure(name, call, in_flight=1):
    cpu, start = moto_cpu(), time.time()
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(call, range(N)))
    used = moto_cpu() - cpu
    print(f"{name:40s} wall {time.time() - start:6.2f} s, moto CPU {used:6.2f} s ({used / N * 1000:.2f} ms per call)")


def not_found(describe):
    def call(i):
        try:
            describe(i)
        except rds.exceptions.ClientError:
            pass

    return call


group_absent = not_found(lambda i: rds.describe_db_subnet_groups(DBSubnetGroupName=f"absent-{i}"))
instance_absent = not_found(lambda i: rds.describe_db_instances(DBInstanceIdentifier=f"absent-{i}"))

measure("describe absent subnet group (empty)", group_absent)
measure("describe absent instance (empty)", instance_absent)
measure(
    "create subnet group",
    lambda i: rds.create_db_subnet_group(
        DBSubnetGroupName=f"g{i}", DBSubnetGroupDescription="bench", SubnetIds=subnets
    ),
)
measure(
    "create instance",
    lambda i: rds.create_db_instance(
        DBInstanceIdentifier=f"i{i}",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="16",
        AllocatedStorage=20,
        MasterUsername="bench",
        MasterUserPassword="bench-password",
        DBSubnetGroupName=f"g{i}",
    ),
)
measure("describe absent subnet group (N exist)", group_absent)
measure("describe absent instance (N exist)", instance_absent)
measure("describe existing instance", lambda i: rds.describe_db_instances(DBInstanceIdentifier=f"i{i}"))
measure("describe absent instance, 16 in flight", instance_absent, in_flight=16)
moto.kill()
