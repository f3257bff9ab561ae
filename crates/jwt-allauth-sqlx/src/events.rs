//! The event log in SQL: written in the transaction of each change, read back in `seq`
//! order.

use jwt_allauth::events::{Event, EventType, NewEvent, RevocationReason};
use jwt_allauth::store::SessionEnd;
use jwt_allauth::{DeviceInfo, StoreError};
use sqlx::query::QueryAs;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Type};

use crate::device::DeviceRow;
use crate::dialect::Dialect;
use crate::error::{decode_error, store_error};
use crate::sql;

/// A session a deletion returned: what its `session.revoked` event needs.
#[derive(sqlx::FromRow)]
pub(crate) struct EndedRow {
    session: String,
    user_id: String,
    #[sqlx(flatten)]
    device: DeviceRow,
}

/// An event row as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow<T> {
    seq: i64,
    id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    time: T,
    user_id: String,
    session: Option<String>,
    reason: Option<String>,
    device: Option<String>,
}

/// Why a stored event cannot be read back.
#[derive(Debug, thiserror::Error)]
enum EventRowError {
    #[error(transparent)]
    Type(#[from] jwt_allauth::events::UnknownEventType),
    #[error("unknown revocation reason `{0}`")]
    Reason(String),
    #[error("unreadable device metadata")]
    Device(#[source] serde_json::Error),
}

impl<T> EventRow<T> {
    pub(crate) fn into_event<DB: Dialect<Time = T>>(self) -> Result<Event, StoreError> {
        let event_type: EventType = self
            .event_type
            .parse()
            .map_err(|err| decode_error(EventRowError::Type(err)))?;
        let reason = self
            .reason
            .map(|name| {
                RevocationReason::from_name(&name)
                    .ok_or_else(|| decode_error(EventRowError::Reason(name)))
            })
            .transpose()?;
        let device = self
            .device
            .map(|json| {
                serde_json::from_str::<DeviceInfo>(&json)
                    .map_err(|err| decode_error(EventRowError::Device(err)))
            })
            .transpose()?;
        Ok(Event {
            id: self.id,
            seq: self.seq,
            event_type,
            time: DB::decode_time(self.time)?,
            user_id: self.user_id,
            session: self.session,
            reason,
            device,
        })
    }
}

/// Writes `event` on `connection`, a transaction of the change it records.
pub(crate) async fn write_event<'c, DB, E>(executor: E, event: &NewEvent) -> Result<(), StoreError>
where
    DB: Dialect,
    E: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    let device = event
        .device
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| StoreError::Backend(Box::new(err)))?;
    let id = Event::new_id();
    sqlx::query(sql::INSERT_EVENT)
        .bind(id.as_str())
        .bind(event.event_type.as_str())
        .bind(DB::encode_time(event.time))
        .bind(event.user_id.as_str())
        .bind(event.session.as_deref())
        .bind(event.reason.map(RevocationReason::as_str))
        .bind(device.as_deref())
        .execute(executor)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Runs `query`, a deletion of sessions that returns them, on `connection` (a
/// transaction), and writes one `session.revoked` event per session it deleted. The ids of
/// those sessions.
pub(crate) async fn end_sessions<'q, DB>(
    connection: &mut DB::Connection,
    query: QueryAs<'q, DB, EndedRow, DB::Arguments>,
    end: SessionEnd,
) -> Result<Vec<String>, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    Option<bool>: for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    Option<String>: for<'r> Decode<'r, DB> + Type<DB>,
{
    let rows: Vec<EndedRow> = query
        .fetch_all(&mut *connection)
        .await
        .map_err(store_error)?;
    let mut ended = Vec::with_capacity(rows.len());
    for row in rows {
        let event = NewEvent::session_revoked(
            row.user_id,
            row.session.as_str(),
            end.reason,
            Some(row.device.into()),
            end.at,
        );
        write_event::<DB, _>(&mut *connection, &event).await?;
        ended.push(row.session);
    }
    Ok(ended)
}
