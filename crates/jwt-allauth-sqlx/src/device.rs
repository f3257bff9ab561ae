//! The 12 device-metadata columns shared by both tables and both backends.

use jwt_allauth::DeviceInfo;
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

/// The device columns of a row, in the order [`bind_device`] binds them.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeviceRow {
    ip: Option<String>,
    browser: Option<String>,
    browser_version: Option<String>,
    os: Option<String>,
    os_version: Option<String>,
    device: Option<String>,
    device_brand: Option<String>,
    device_model: Option<String>,
    is_mobile: Option<bool>,
    is_tablet: Option<bool>,
    is_pc: Option<bool>,
    is_bot: Option<bool>,
}

impl From<DeviceRow> for DeviceInfo {
    fn from(row: DeviceRow) -> Self {
        DeviceInfo {
            ip: row.ip,
            browser: row.browser,
            browser_version: row.browser_version,
            os: row.os,
            os_version: row.os_version,
            device: row.device,
            device_brand: row.device_brand,
            device_model: row.device_model,
            is_mobile: row.is_mobile,
            is_tablet: row.is_tablet,
            is_pc: row.is_pc,
            is_bot: row.is_bot,
        }
    }
}

/// Binds the 12 device columns, in the order `ip, browser, browser_version, os,
/// os_version, device, device_brand, device_model, is_mobile, is_tablet, is_pc, is_bot`.
pub(crate) fn bind_device<'q, DB>(
    query: Query<'q, DB, DB::Arguments>,
    device: &DeviceInfo,
) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<bool>: Encode<'a, DB> + Type<DB>,
{
    query
        .bind(device.ip.as_deref())
        .bind(device.browser.as_deref())
        .bind(device.browser_version.as_deref())
        .bind(device.os.as_deref())
        .bind(device.os_version.as_deref())
        .bind(device.device.as_deref())
        .bind(device.device_brand.as_deref())
        .bind(device.device_model.as_deref())
        .bind(device.is_mobile)
        .bind(device.is_tablet)
        .bind(device.is_pc)
        .bind(device.is_bot)
}
