// Where backups live, read by serverless.yml at package time: the bucket (versioned, private,
// TLS-only, lifecycle matching the GFS retention), its encryption key, and who may read the dumps.
//   - A customer-managed KMS key is created (rotated yearly) unless backupKmsKeyId names one. Its
//     policy lets the account administer it but lets only the backup function's role (and the
//     restore principals, and the replication role) use it: a dump can be read by no one else,
//     whatever their S3 rights (ReadOnlyAccess included).
//   - The bucket policy denies reading objects under backups/ to every principal but those.
//   - Optional Object Lock (backupObjectLockMode, backupObjectLockDays) and replication to another
//     bucket, account or region (backupReplicationBucketArn, ...).
//   - The bucket's name is vigil-<stage>-backups-<account>-<region> unless backupBucketName gives
//     one: unique without anyone choosing, and written with CloudFormation's pseudo parameters, so
//     packaging needs no AWS credentials (Serverless's ${aws:accountId} would call STS). With
//     backupBucketExists=true the bucket is not created but used as it is (the one a removed stack
//     kept, or one made by hand); its policy, the roles and the key grants are made as for a new one.
const { fnSubVariable } = require('./dashboard.cjs');
const { list } = require('./list.cjs');

const partition = fnSubVariable('AWS::Partition');
const region = fnSubVariable('AWS::Region');
const account = fnSubVariable('AWS::AccountId');

const principalArn = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[A-Za-z0-9+=,.@_/-]+$/;
const bucketArn = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const keyArn = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;

/**
 * The bucket's name as Fn::Sub reads it. The policies and the roles name the bucket by this text,
 * not by a reference to it: the bucket's key names the backup role, so a role that referred to the
 * bucket would close a dependency cycle.
 */
function bucketNameSub(stage, given) {
  return given || `vigil-${stage}-backups-${account}-${region}`;
}

/** The bucket's name as a template value: the name given, or the derived one. */
function bucketNameValue(stage, given) {
  return given ? given : { 'Fn::Sub': bucketNameSub(stage, given) };
}

/** The backup function's role (deploy/operations.cjs names it so), as an ARN without a reference to it. */
const backupRoleArn = (stage, regionName) => ({
  'Fn::Sub': `arn:${partition}:iam::${account}:role/vigil-${stage}-backup-${regionName}`,
});

async function settingsOf(resolveVariable) {
  const param = async (name) => String((await resolveVariable(`param:${name}`)) ?? '').trim();
  return {
    stage: await resolveVariable('sls:stage'),
    region: await resolveVariable('self:provider.region'),
    bucket: await param('backupBucketName'),
    bucketExists: await param('backupBucketExists'),
    kmsKeyId: await param('backupKmsKeyId'),
    restorePrincipals: list(await param('backupRestorePrincipalArns')),
    objectLockMode: await param('backupObjectLockMode'),
    objectLockDays: await param('backupObjectLockDays'),
    replicationBucketArn: await param('backupReplicationBucketArn'),
    replicationAccountId: await param('backupReplicationAccountId'),
    replicationKmsKeyArn: await param('backupReplicationKmsKeyArn'),
  };
}

/** Every problem of the backup storage parameters, named. */
function storageProblems(settings) {
  const problems = [];
  if (!['true', 'false', ''].includes(settings.bucketExists)) {
    problems.push(`backupBucketExists: "${settings.bucketExists}" must be true or false`);
  }
  for (const principal of settings.restorePrincipals) {
    if (!principalArn.test(principal)) {
      problems.push(`backupRestorePrincipalArns: "${principal}" is not an IAM role or user ARN`);
    }
  }
  if (settings.objectLockMode && !['GOVERNANCE', 'COMPLIANCE'].includes(settings.objectLockMode)) {
    problems.push('backupObjectLockMode: must be GOVERNANCE, COMPLIANCE or empty');
  }
  if (settings.objectLockMode && !/^[1-9]\d{0,4}$/.test(settings.objectLockDays)) {
    problems.push('backupObjectLockDays: must be a number of days (1-99999) when backupObjectLockMode is set');
  }
  if (settings.replicationBucketArn) {
    if (!bucketArn.test(settings.replicationBucketArn)) {
      problems.push(`backupReplicationBucketArn: "${settings.replicationBucketArn}" is not an S3 bucket ARN (arn:aws:s3:::name)`);
    }
    if (!keyArn.test(settings.replicationKmsKeyArn)) {
      problems.push(
        'backupReplicationKmsKeyArn: the replicas are encrypted with a KMS key of the destination: give its key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
      );
    }
    if (settings.replicationAccountId && !/^\d{12}$/.test(settings.replicationAccountId)) {
      problems.push('backupReplicationAccountId: must be a 12-digit account id');
    }
  }
  return problems;
}

function createsKey(settings) {
  return !settings.kmsKeyId;
}

/** BACKUP_KMS_KEY_ID: the created key's ARN, or the one given. */
module.exports.kmsKeyId = async ({ resolveVariable }) => {
  const settings = await settingsOf(resolveVariable);
  // The local stack's S3 server has no KMS: SSE-S3 there.
  if (settings.stage === 'local') return settings.kmsKeyId;
  return createsKey(settings) ? { 'Fn::GetAtt': ['BackupKey', 'Arn'] } : settings.kmsKeyId;
};

/**
 * BACKUP_BUCKET: a reference to the bucket the stack creates (so the function is created after it),
 * else the name of the one that exists; on the local stage the local S3 server's bucket.
 */
module.exports.bucketName = async ({ resolveVariable }) => {
  const settings = await settingsOf(resolveVariable);
  if (settings.stage === 'local' || settings.bucketExists === 'true') return bucketNameValue(settings.stage, settings.bucket);
  return { Ref: 'BackupBucket' };
};

/** The BucketName the template gives the bucket (what `Ref: BackupBucket` stands for). */
module.exports.bucketNameValue = bucketNameValue;
module.exports.bucketNameSub = bucketNameSub;
module.exports.storageProblems = storageProblems;

module.exports.resources = async ({ resolveVariable }) => {
  const settings = await settingsOf(resolveVariable);
  const problems = storageProblems(settings);
  if (problems.length > 0) throw new Error(`Invalid backup storage parameters: ${problems.join('; ')}`);
  const { stage } = settings;
  const bucket = bucketNameSub(stage, settings.bucket);
  const creates = settings.bucketExists !== 'true';
  if (stage !== 'local' && settings.restorePrincipals.length === 0) {
    // Not an error (the backups are still taken), but nobody could restore one: said at package time.
    const named = settings.bucket || `vigil-${stage}-backups-<account>-${settings.region}`;
    process.stderr.write(
      `warning: backupRestorePrincipalArns is empty: only the backup role can read the dumps of ${named}, so nobody can restore them. Pass --param "backupRestorePrincipalArns=arn:aws:iam::<account>:role/<who restores>" (docs/deploying.md).\n`,
    );
  }
  if (!creates && createsKey(settings)) {
    // The dumps already there are encrypted with the key the removed stack kept: a new key could not read their manifests.
    process.stderr.write(
      'warning: backupBucketExists=true without backupKmsKeyId: the stack makes a new key, and the backup role cannot read the backups already in the bucket; give the kept key\'s ARN as backupKmsKeyId (docs/deploying.md, "Removing a stage, and deploying it again").\n',
    );
  }
  const readers = [backupRoleArn(stage, settings.region), ...settings.restorePrincipals];
  const replicating = Boolean(settings.replicationBucketArn);
  const resources = {};
  const keyArnValue = createsKey(settings) ? { 'Fn::GetAtt': ['BackupKey', 'Arn'] } : settings.kmsKeyId;

  if (createsKey(settings)) {
    const viaS3 = { StringEquals: { 'kms:ViaService': { 'Fn::Sub': `s3.${region}.amazonaws.com` } } };
    resources.BackupKey = {
      Type: 'AWS::KMS::Key',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      // The key policy names the backup role, which must exist first.
      DependsOn: ['BackupRole', ...(replicating ? ['BackupReplicationRole'] : [])],
      Properties: {
        Description: `Vigil ${stage}: encrypts the database backups; usable only by the backup function and the restore principals`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              // Administration without use: the account can manage (and so never loses) the key,
              // but reading a dump needs the grant below.
              Sid: 'AccountAdministersTheKey',
              Effect: 'Allow',
              Principal: { AWS: { 'Fn::Sub': `arn:${partition}:iam::${account}:root` } },
              Action: [
                'kms:Create*',
                'kms:Describe*',
                'kms:Enable*',
                'kms:List*',
                'kms:Put*',
                'kms:Update*',
                'kms:Revoke*',
                'kms:Disable*',
                'kms:Get*',
                'kms:Delete*',
                'kms:TagResource',
                'kms:UntagResource',
                'kms:ScheduleKeyDeletion',
                'kms:CancelKeyDeletion',
                'kms:RotateKeyOnDemand',
              ],
              Resource: '*',
            },
            {
              Sid: 'BackupFunctionWritesAndReadsDumps',
              Effect: 'Allow',
              Principal: { AWS: backupRoleArn(stage, settings.region) },
              Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
              Resource: '*',
              Condition: viaS3,
            },
            ...(settings.restorePrincipals.length
              ? [
                  {
                    Sid: 'RestorePrincipalsReadDumps',
                    Effect: 'Allow',
                    Principal: { AWS: settings.restorePrincipals },
                    Action: ['kms:Decrypt'],
                    Resource: '*',
                    Condition: viaS3,
                  },
                ]
              : []),
            ...(replicating
              ? [
                  {
                    Sid: 'ReplicationReadsDumps',
                    Effect: 'Allow',
                    Principal: { AWS: { 'Fn::GetAtt': ['BackupReplicationRole', 'Arn'] } },
                    Action: ['kms:Decrypt'],
                    Resource: '*',
                    Condition: viaS3,
                  },
                ]
              : []),
          ],
        },
      },
    };
    resources.BackupKeyAlias = {
      Type: 'AWS::KMS::Alias',
      Properties: { AliasName: `alias/vigil-${stage}-backups`, TargetKeyId: { Ref: 'BackupKey' } },
    };
  }

  const lock =
    settings.objectLockMode !== ''
      ? {
          ObjectLockEnabled: true,
          ObjectLockConfiguration: {
            ObjectLockEnabled: 'Enabled',
            Rule: { DefaultRetention: { Mode: settings.objectLockMode, Days: Number(settings.objectLockDays) } },
          },
        }
      : {};

  // An existing bucket keeps the settings it has (a bucket Vigil created kept them when its stack was
  // removed): versioning, encryption, lifecycle, Object Lock and replication are not applied to it.
  const bucketResource = {
    Type: 'AWS::S3::Bucket',
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      BucketName: bucketNameValue(stage, settings.bucket),
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArnValue },
            BucketKeyEnabled: true,
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: {
        Rules: [
          // A run killed before it could abort leaves parts that are never a backup.
          { Id: 'abort-incomplete-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
          // Retention deletes by the manifests (GFS); versioning keeps what it deleted for 30 days
          // more (Object Lock, when set, for at least its own retention).
          {
            Id: 'expire-deleted-backups',
            Status: 'Enabled',
            Prefix: 'backups/',
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            ExpiredObjectDeleteMarker: true,
          },
        ],
      },
      ...lock,
      ...(replicating
        ? {
            ReplicationConfiguration: {
              Role: { 'Fn::GetAtt': ['BackupReplicationRole', 'Arn'] },
              Rules: [
                {
                  Id: 'backups-elsewhere',
                  Status: 'Enabled',
                  Priority: 1,
                  Filter: { Prefix: 'backups/' },
                  DeleteMarkerReplication: { Status: 'Disabled' },
                  SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
                  Destination: {
                    Bucket: settings.replicationBucketArn,
                    EncryptionConfiguration: { ReplicaKmsKeyID: settings.replicationKmsKeyArn },
                    ...(settings.replicationAccountId
                      ? { Account: settings.replicationAccountId, AccessControlTranslation: { Owner: 'Destination' } }
                      : {}),
                  },
                },
              ],
            },
          }
        : {}),
    },
  };
  if (creates) resources.BackupBucket = bucketResource;

  resources.BackupBucketPolicy = {
    Type: 'AWS::S3::BucketPolicy',
    Properties: {
      Bucket: creates ? { Ref: 'BackupBucket' } : bucketNameValue(stage, settings.bucket),
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'TlsOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [{ 'Fn::Sub': `arn:${partition}:s3:::${bucket}` }, { 'Fn::Sub': `arn:${partition}:s3:::${bucket}/*` }],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            // Whatever a principal's own policies allow (ReadOnlyAccess included): a dump is read
            // by the backup function (its check, retention and restore check) and the restore
            // principals only. Replication reads through its own actions, not these.
            Sid: 'DumpsReadOnlyByBackupAndRestore',
            Effect: 'Deny',
            Principal: '*',
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: { 'Fn::Sub': `arn:${partition}:s3:::${bucket}/backups/*` },
            Condition: { ArnNotLike: { 'aws:PrincipalArn': readers } },
          },
        ],
      },
    },
  };

  if (replicating) {
    const destinationBucket = settings.replicationBucketArn;
    resources.BackupReplicationRole = {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: `vigil-${stage}-backup-replication-${settings.region}`,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
        Policies: [
          {
            PolicyName: `vigil-${stage}-backup-replication`,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
                  Resource: { 'Fn::Sub': `arn:${partition}:s3:::${bucket}` },
                },
                {
                  Effect: 'Allow',
                  Action: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
                  Resource: { 'Fn::Sub': `arn:${partition}:s3:::${bucket}/backups/*` },
                },
                {
                  Effect: 'Allow',
                  Action: ['s3:ReplicateObject', 's3:ReplicateTags', 's3:ObjectOwnerOverrideToBucketOwner'],
                  Resource: `${destinationBucket}/backups/*`,
                },
                // A key Vigil creates grants the decrypt in its own policy (naming it here too would
                // make the key and this role depend on each other).
                ...(createsKey(settings) ? [] : [{ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: settings.kmsKeyId }]),
                { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:GenerateDataKey'], Resource: settings.replicationKmsKeyArn },
              ],
            },
          },
        ],
      },
    };
  }
  return resources;
};
