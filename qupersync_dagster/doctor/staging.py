"""The doctor's check of S3 staging: valid settings, a bucket this process can read, a role.

It only asks (``HeadBucket`` and a one-key listing under the prefix, with the AWS credentials a
run would use) and writes nothing. Whether the cluster may assume the role and write the bucket
only an UNLOAD can tell, and the doctor runs none: the finding names the role to check.
"""

from __future__ import annotations

from qupersync_dagster.doctor.checks import error_text
from qupersync_dagster.doctor.report import Level, Report
from qupersync_dagster.domain.entities import ExtractMethod
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings
from qupersync_dagster.infrastructure.s3.store import StagingStore
from qupersync_dagster.infrastructure.table_list import TableList

STAGING = "S3 staging"
_SETTINGS = "REDSHIFT_UNLOAD_BUCKET, _PREFIX, _REGION, _IAM_ROLE and _ENDPOINT_URL"


def check_staging(redshift: RedshiftSettings, table_list: TableList, report: Report) -> None:
    try:
        staging = redshift.staging()
    except Exception as error:  # noqa: BLE001 - a ConfigError naming the variable
        report.add(Level.PROBLEM, STAGING, str(error), f"fix {_SETTINGS}")
        return
    if staging is None:
        for spec in table_list.tables:
            if spec.extract is ExtractMethod.UNLOAD:
                report.add(
                    Level.PROBLEM,
                    STAGING,
                    f"table {spec.name} has extract: unload, but no S3 staging is configured",
                    f"set {_SETTINGS}, or extract: auto",
                )
        report.add(
            Level.INFO, STAGING, "not configured (REDSHIFT_UNLOAD_BUCKET): days are read by cursor"
        )
        return
    where = f"s3://{staging.bucket}/{staging.prefix}"
    try:
        StagingStore(staging).probe()
    except Exception as error:  # noqa: BLE001 - named in the report
        report.add(
            Level.PROBLEM,
            STAGING,
            f"cannot read {where}: {error_text(error)}",
            "check the bucket's name and region, and that this process's AWS credentials "
            "(environment, profile or instance role) may s3:ListBucket, s3:GetObject and "
            "s3:DeleteObject there",
        )
        return
    report.add(
        Level.OK,
        STAGING,
        f"{where} is readable with this process's AWS credentials; UNLOAD writes there as "
        f"{staging.iam_role} (the cluster must be allowed to assume it, see the README)",
    )
