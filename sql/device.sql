-- Where training runs: device => 'auto' | 'cpu' | 'cuda', the dendrite.device setting that 'auto' follows,
-- and the CUDA plugin's settings. CI has no GPU; a plugin path that does not exist gives the same answers on
-- every machine (tests/unit/device_test.cpp covers training on a device).
\set VERBOSITY default
SET client_min_messages = warning;
CREATE TABLE device_points AS SELECT * FROM points WHERE id <= 600;
SET dendrite.cuda_library = '/nonexistent/dendrite_cuda.so';

-- The regression database trains on the CPU (set by the setup suite): no GPU is looked for.
SHOW dendrite.device;
SELECT version, device FROM dendrite.train('dev', 'SELECT x, y, label FROM device_points', 'label', epochs => 1);

-- 'auto' with dendrite.device = auto: no usable GPU, so the CPU, said once per session. (A one-class
-- query stops each training after the device is chosen, before the per-epoch notices.)
SET dendrite.device = auto;
SET client_min_messages = notice;
SELECT dendrite.train('dev', 'SELECT x, y, false AS label FROM device_points', 'label', epochs => 1);
SELECT dendrite.train('dev', 'SELECT x, y, false AS label FROM device_points', 'label', epochs => 1);
SET client_min_messages = warning;
SELECT version, device FROM dendrite.train('dev', 'SELECT x, y, label FROM device_points', 'label', epochs => 1);

-- 'cuda' must run on the GPU: a clear 0A000 that says why, before any row is read.
SELECT dendrite.train('dev', 'SELECT x, y, label FROM device_points', 'label', device => 'cuda');
SELECT dendrite.train('dev', 'SELECT x, y, label FROM no_such_table', 'label', device => 'cuda');
-- dendrite.device = cuda makes 'auto' mean 'cuda'; 'cpu' still trains on the CPU.
SET dendrite.device = cuda;
SELECT dendrite.train('dev', 'SELECT x, y, label FROM device_points', 'label', epochs => 1);
SELECT version, device FROM dendrite.train('dev', 'SELECT x, y, label FROM device_points', 'label', epochs => 1,
                                           device => 'cpu');
RESET dendrite.device;
SELECT dendrite.train('dev', 'SELECT x, y, label FROM device_points', 'label', device => 'gpu');
SET dendrite.device = tpu;

-- The version keeps the device it trained on; its settings keep the device asked for, which a
-- retraining asks for again.
SELECT version, device, hyperparameters->>'device' AS asked
  FROM dendrite.model_versions v JOIN dendrite.models m USING (model_id)
 WHERE m.name = 'dev' ORDER BY version;

-- The GPU budget and the plugin's path are for superusers alone.
SHOW dendrite.gpu_memory;
SET dendrite.gpu_memory = '2GB';
SHOW dendrite.gpu_memory;
CREATE ROLE regress_device_user;
SET ROLE regress_device_user;
SET dendrite.gpu_memory = '100GB';
SET dendrite.cuda_library = '/tmp/evil.so';
SET dendrite.device = cpu;
RESET ROLE;
DROP ROLE regress_device_user;
RESET dendrite.gpu_memory;
SELECT dendrite.drop_model('dev');
