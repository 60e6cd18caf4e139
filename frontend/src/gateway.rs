//! A thin typed wrapper over the `LLBBridge` client: the only place the frontend talks gRPC.

use llb_gen::compile::ResolvedImage;
use llb_gen::proto::gateway::llb_bridge_client::LlbBridgeClient;
use llb_gen::proto::gateway::{
    self as gw, PingRequest, PongResponse, ReadFileRequest, ResolveImageConfigRequest,
    ReturnRequest, SolveRequest,
};
use llb_gen::proto::{pb, rpc};
use prost::Message;
use tonic::transport::Channel;

use crate::failure::Failure;

/// Largest message we accept from BuildKit (files and image configs can be large).
const MAX_DECODE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{what}: {status}", status = .source.message())]
    Rpc {
        what: String,
        #[source]
        source: tonic::Status,
    },
    #[error("{0}")]
    Protocol(String),
}

fn rpc_err(what: impl Into<String>) -> impl FnOnce(tonic::Status) -> GatewayError {
    let what = what.into();
    move |source| GatewayError::Rpc { what, source }
}

pub struct Gateway {
    client: LlbBridgeClient<Channel>,
}

impl Gateway {
    pub fn new(channel: Channel) -> Gateway {
        Gateway {
            client: LlbBridgeClient::new(channel).max_decoding_message_size(MAX_DECODE_BYTES),
        }
    }

    pub async fn ping(&mut self) -> Result<PongResponse, GatewayError> {
        Ok(self
            .client
            .ping(PingRequest {})
            .await
            .map_err(rpc_err("ping BuildKit"))?
            .into_inner())
    }

    /// Solves a definition and returns the id of its result reference.
    pub async fn solve(
        &mut self,
        definition: pb::Definition,
        cache_imports: Vec<gw::CacheOptionsEntry>,
        evaluate: bool,
        what: &str,
    ) -> Result<String, GatewayError> {
        let request = SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports,
            evaluate,
            ..Default::default()
        };
        let response = self
            .client
            .solve(request)
            .await
            .map_err(rpc_err(what))?
            .into_inner();
        match response.result.and_then(|r| r.result) {
            Some(gw::result::Result::Ref(r)) => Ok(r.id),
            Some(gw::result::Result::RefDeprecated(id)) => Ok(id),
            _ => Err(GatewayError::Protocol(format!(
                "{what}: BuildKit returned no single result reference"
            ))),
        }
    }

    pub async fn read_file(
        &mut self,
        reference: &str,
        path: &str,
    ) -> Result<Vec<u8>, GatewayError> {
        let request = ReadFileRequest {
            r#ref: reference.into(),
            file_path: path.into(),
            ..Default::default()
        };
        Ok(self
            .client
            .read_file(request)
            .await
            .map_err(rpc_err(format!("read {path}")))?
            .into_inner()
            .data)
    }

    /// Up to `length` bytes of a file of a solved ref from `offset` (fewer at its end): how
    /// files larger than one message are read.
    pub async fn read_file_range(
        &mut self,
        reference: &str,
        path: &str,
        offset: i64,
        length: i64,
    ) -> Result<Vec<u8>, GatewayError> {
        let request = ReadFileRequest {
            r#ref: reference.into(),
            file_path: path.into(),
            range: Some(gw::FileRange { offset, length }),
        };
        Ok(self
            .client
            .read_file(request)
            .await
            .map_err(rpc_err(format!("read {path} from byte {offset}")))?
            .into_inner()
            .data)
    }

    /// The entries of one directory of a solved ref (names relative to that directory).
    pub async fn read_dir(
        &mut self,
        reference: &str,
        dir: &str,
    ) -> Result<Vec<llb_gen::proto::fsutil::types::Stat>, GatewayError> {
        let request = gw::ReadDirRequest {
            r#ref: reference.into(),
            dir_path: dir.into(),
            include_pattern: String::new(),
        };
        Ok(self
            .client
            .read_dir(request)
            .await
            .map_err(rpc_err(format!("list {dir}")))?
            .into_inner()
            .entries)
    }

    pub async fn resolve_image_config(
        &mut self,
        image: &str,
        platform: &pb::Platform,
        resolve_mode: &str,
    ) -> Result<ResolvedImage, GatewayError> {
        let request = ResolveImageConfigRequest {
            r#ref: image.into(),
            platform: Some(platform.clone()),
            resolve_mode: resolve_mode.into(),
            log_name: format!("[cachet] resolve image {image}"),
            ..Default::default()
        };
        let response = self
            .client
            .resolve_image_config(request)
            .await
            .map_err(rpc_err(format!("resolve image {image}")))?
            .into_inner();
        // The digest is empty when dockerd served the image from its local store.
        Ok(ResolvedImage {
            digest: response.digest,
            config: response.config,
        })
    }

    pub async fn return_result(&mut self, result: gw::Result) -> Result<(), GatewayError> {
        let request = ReturnRequest {
            result: Some(result),
            error: None,
        };
        self.client
            .r#return(request)
            .await
            .map_err(rpc_err("return the result"))?;
        Ok(())
    }

    /// Fails the build with `message`, which BuildKit shows to the user.
    pub async fn return_error(&mut self, failure: Failure) -> Result<(), GatewayError> {
        // google.rpc.Code UNKNOWN (2) is what BuildKit's own frontends use for build errors.
        let details = failure
            .source
            .map(|source| prost_types::Any {
                // Resolved by BuildKit through the protobuf registry (`errdefs.Source`).
                type_url: "type.googleapis.com/errdefs.Source".to_string(),
                value: source.encode_to_vec(),
            })
            .into_iter()
            .collect();
        let status = rpc::Status {
            code: 2,
            message: failure.message,
            details,
        };
        let request = ReturnRequest {
            result: None,
            error: Some(status),
        };
        self.client
            .r#return(request)
            .await
            .map_err(rpc_err("return the error"))?;
        Ok(())
    }
}
