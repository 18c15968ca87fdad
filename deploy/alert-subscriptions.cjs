// Builds one AWS::SNS::Subscription per address in the alertEmails and alertPhoneNumbers stage
// parameters (comma-separated), each with the filter policy of lib/alerts/routing.json: email gets
// critical, major and minor, and the report's digests; SMS gets critical only. Read by serverless.yml at package time.
const routing = require('../lib/alerts/routing.json');
const { list } = require('./list.cjs');

const logicalId = (prefix, index) => `${prefix}${index + 1}`;

module.exports = async ({ resolveVariable }) => {
  const emails = list(await resolveVariable('param:alertEmails'));
  const phones = list(await resolveVariable('param:alertPhoneNumbers'));
  const bad = [
    ...emails
      .filter((email) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
      .map((email) => `alertEmails: "${email}" is not an email address`),
    ...phones
      .filter((phone) => !/^\+[1-9]\d{6,14}$/.test(phone))
      .map((phone) => `alertPhoneNumbers: "${phone}" is not an E.164 number (+4915112345678)`),
  ];
  if (bad.length > 0) throw new Error(`Invalid alert subscriptions: ${bad.join('; ')}`);
  const resources = {};
  const subscription = (protocol, endpoint, filterPolicy) => ({
    Type: 'AWS::SNS::Subscription',
    Properties: {
      TopicArn: { Ref: 'AlertTopic' },
      Protocol: protocol,
      Endpoint: endpoint,
      FilterPolicyScope: 'MessageAttributes',
      FilterPolicy: filterPolicy,
    },
  });
  emails.forEach((email, index) => {
    resources[logicalId('AlertEmailSubscription', index)] = subscription('email', email, routing.email);
  });
  phones.forEach((phone, index) => {
    resources[logicalId('AlertSmsSubscription', index)] = subscription('sms', phone, routing.sms);
  });
  return resources;
};
