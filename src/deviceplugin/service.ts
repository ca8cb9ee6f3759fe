import * as grpc from '@grpc/grpc-js';
import { errorMessage, InvalidInputError, type Logger } from '../sys/index.js';
import type { Pool } from './pool.js';
import type { DevicePluginImpl, DevicePluginOptions } from './proto.js';

/** The DevicePlugin gRPC service of one pool: request plumbing and status codes only. */

export const PLUGIN_OPTIONS: DevicePluginOptions = {
  pre_start_required: false,
  get_preferred_allocation_available: true,
};

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  return {
    code: err instanceof InvalidInputError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
    details: errorMessage(err),
  };
}

export function devicePluginService(pool: Pool, logger: Logger): DevicePluginImpl {
  return {
    GetDevicePluginOptions: (_call, cb) => cb(null, PLUGIN_OPTIONS),

    ListAndWatch: (call) => {
      logger.info({ resource: pool.fullName }, 'kubelet opened ListAndWatch');
      const remove = pool.watch({
        send: (resp) => {
          if (call.cancelled || !call.writable) return;
          try {
            call.write(resp);
          } catch (err) {
            // A stream torn down under us (kubelet gone): its close handler removes it.
            logger.debug({ resource: pool.fullName, err: errorMessage(err) }, 'ListAndWatch write');
          }
        },
      });
      let open = true;
      const done = () => {
        if (!open) return;
        open = false;
        remove();
        logger.info({ resource: pool.fullName }, 'ListAndWatch closed');
      };
      call.once('cancelled', done);
      call.once('close', done);
      call.once('error', done);
    },

    GetPreferredAllocation: (call, cb) => {
      try {
        cb(null, {
          container_responses: call.request.container_requests.map((r) => ({
            deviceIDs: pool.preferred(r),
          })),
        });
      } catch (err) {
        cb(toStatus(err));
      }
    },

    Allocate: (call, cb) => {
      const ids = call.request.container_requests.map((c) => c.devices_ids);
      pool.allocate(ids).then(
        (container_responses) => {
          logger.info({ resource: pool.fullName, devices: ids }, 'allocated');
          cb(null, { container_responses });
        },
        (err: unknown) => {
          logger.warn(
            { resource: pool.fullName, devices: ids, err: errorMessage(err) },
            'allocate refused',
          );
          cb(toStatus(err));
        },
      );
    },

    PreStartContainer: (_call, cb) => cb(null, {}),
  };
}
