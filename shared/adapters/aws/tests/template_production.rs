//! What makes `infra/template.yaml` fit to run a business on, checked on
//! the parsed template so none of it can regress: alarms that reach a
//! person, deploys that never cut a call, a bridge that scales, an image
//! repository, least-privilege secrets, no reserved concurrency, metrics
//! kept inside the VPC, names that let the stack be re-created.
//!
//! The YAML is read with serde_yaml, which keeps CloudFormation's short
//! forms (`!Ref X`, `!Sub "…"`, `!GetAtt A.B`, …) as tagged values.

use serde_yaml::Value;
use serde_yaml::value::TaggedValue;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../infra/template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    serde_yaml::from_str(&text).expect("the template is YAML")
}

/// `value[a][b]…`, `Null` where a key is missing.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(value, |v, key| v.get(key).unwrap_or(&Value::Null))
}

/// The tag and the value of a short-form intrinsic (`!Ref X` → `("Ref", X)`).
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let TaggedValue { tag, value } = tagged.as_ref();
            Some((tag.to_string().trim_start_matches('!').to_string(), value))
        }
        _ => None,
    }
}

/// `X` of `!Ref X`.
fn reference(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (tag, Value::String(name)) if tag == "Ref" => Some(name),
        _ => None,
    }
}

/// The text of `!Sub "…"` or a plain string.
fn text(value: &Value) -> Option<&str> {
    match (value, intrinsic(value)) {
        (Value::String(s), _) => Some(s),
        (_, Some((tag, Value::String(s)))) if tag == "Sub" => Some(s),
        _ => None,
    }
}

/// A string or a list of strings, as a list.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn number(value: &Value) -> u64 {
    match value {
        Value::Number(n) => n.as_u64().expect("a whole number"),
        Value::String(s) => s.parse().expect("a whole number"),
        other => panic!("not a number: {other:?}"),
    }
}

/// The template's resources of `kind`, by logical id.
fn resources<'a>(t: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    at(t, &["Resources"])
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| at(r, &["Type"]).as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("a logical id"), r))
        .collect()
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    let r = at(t, &["Resources", id]);
    assert!(!r.is_null(), "{id} is not in the template");
    r
}

/// Every IAM policy statement of a function (SAM `Policies`) or role.
fn statements(r: &Value) -> Vec<&Value> {
    let policies = match at(r, &["Type"]).as_str() {
        Some("AWS::Serverless::Function") => at(r, &["Properties", "Policies"])
            .as_sequence()
            .map(|p| p.iter().collect::<Vec<_>>())
            .unwrap_or_default(),
        Some("AWS::IAM::Role") => at(r, &["Properties", "Policies"])
            .as_sequence()
            .map(|p| p.iter().map(|p| at(p, &["PolicyDocument"])).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    policies
        .into_iter()
        .flat_map(|p| at(p, &["Statement"]).as_sequence().into_iter().flatten())
        .collect()
}

/// The alarms on `metric` in `namespace`.
fn alarms<'a>(t: &'a Value, namespace: &str, metric: &str) -> Vec<&'a Value> {
    resources(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(_, a)| at(a, &["Properties"]))
        .filter(|p| {
            at(p, &["Namespace"]).as_str() == Some(namespace)
                && at(p, &["MetricName"]).as_str() == Some(metric)
        })
        .collect()
}

/// The value of an alarm's dimension `name`.
fn dimension<'a>(alarm: &'a Value, name: &str) -> Option<&'a Value> {
    at(alarm, &["Dimensions"])
        .as_sequence()?
        .iter()
        .find(|d| at(d, &["Name"]).as_str() == Some(name))
        .map(|d| at(d, &["Value"]))
}

/// The media bridge container's environment variable `name`.
fn container_env<'a>(t: &'a Value, name: &str) -> &'a Value {
    let container = &at(
        resource(t, "MediaTaskDefinition"),
        &["Properties", "ContainerDefinitions"],
    )[0];
    at(container, &["Environment"])
        .as_sequence()
        .expect("the container's environment")
        .iter()
        .find(|e| at(e, &["Name"]).as_str() == Some(name))
        .map(|e| at(e, &["Value"]))
        .unwrap_or_else(|| panic!("the bridge has no {name}"))
}

#[test]
fn the_alarm_topic_s_key_lets_cloudwatch_publish() {
    let t = template();
    let topic = resource(&t, "AlarmTopic");
    let key_id = reference(at(topic, &["Properties", "KmsMasterKeyId"]))
        .expect("the alarm topic is encrypted with a key of the template (not alias/aws/sns)");
    let key = resource(&t, key_id);
    assert_eq!(at(key, &["Type"]).as_str(), Some("AWS::KMS::Key"));
    let statements = at(key, &["Properties", "KeyPolicy", "Statement"])
        .as_sequence()
        .expect("a key policy");
    let cloudwatch = statements
        .iter()
        .find(|s| {
            at(s, &["Principal", "Service"]).as_str() == Some("cloudwatch.amazonaws.com")
                && at(s, &["Effect"]).as_str() == Some("Allow")
        })
        .expect("the key policy lets cloudwatch.amazonaws.com use the key");
    let actions = strings(at(cloudwatch, &["Action"]));
    for needed in ["kms:Decrypt", "kms:GenerateDataKey*"] {
        assert!(
            actions.iter().any(|a| a == needed),
            "{needed} in {actions:?}"
        );
    }
    // Every alarm notifies that topic.
    for (id, alarm) in resources(&t, "AWS::CloudWatch::Alarm") {
        let actions = at(alarm, &["Properties", "AlarmActions"])
            .as_sequence()
            .expect("alarm actions");
        assert!(
            actions.iter().any(|a| reference(a) == Some("AlarmTopic")),
            "{id} does not notify AlarmTopic"
        );
    }
    // And a person can be subscribed from a parameter.
    let subscription = resource(&t, "AlarmSubscription");
    assert_eq!(
        at(subscription, &["Condition"]).as_str(),
        Some("HasAlarmEmail")
    );
    assert_eq!(
        reference(at(subscription, &["Properties", "Endpoint"])),
        Some("AlarmEmail")
    );
}

#[test]
fn every_function_has_an_errors_and_a_throttles_alarm() {
    let t = template();
    let functions = resources(&t, "AWS::Serverless::Function");
    assert!(functions.len() >= 7, "{}", functions.len());
    for metric in ["Errors", "Throttles"] {
        let watched: Vec<&str> = alarms(&t, "AWS/Lambda", metric)
            .into_iter()
            .filter_map(|a| reference(dimension(a, "FunctionName")?))
            .collect();
        for (id, _) in &functions {
            assert!(watched.contains(id), "no {metric} alarm on {id}");
        }
    }
}

#[test]
fn queues_dead_letters_and_the_bridge_have_alarms_and_a_dashboard() {
    let t = template();
    let queues = resources(&t, "AWS::SQS::Queue");
    let watched = |metric: &str| -> Vec<String> {
        alarms(&t, "AWS/SQS", metric)
            .into_iter()
            .filter_map(|a| match intrinsic(dimension(a, "QueueName")?)? {
                (tag, Value::String(attr)) if tag == "GetAtt" => {
                    Some(attr.trim_end_matches(".QueueName").to_string())
                }
                _ => None,
            })
            .collect()
    };
    let (depth, age) = (
        watched("ApproximateNumberOfMessagesVisible"),
        watched("ApproximateAgeOfOldestMessage"),
    );
    for (id, queue) in &queues {
        let redrive = at(queue, &["Properties", "RedrivePolicy"]);
        if redrive.is_null() {
            assert!(
                depth.iter().any(|q| q == id),
                "no depth alarm on the dead-letter queue {id}"
            );
        } else {
            assert!(
                age.iter().any(|q| q == id),
                "no oldest-message alarm on {id}"
            );
        }
    }
    for (namespace, metric) in [
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("AWS/ECS", "MemoryUtilization"),
    ] {
        assert!(
            !alarms(&t, namespace, metric).is_empty(),
            "no {metric} alarm"
        );
    }
    let running = alarms(&t, "ECS/ContainerInsights", "RunningTaskCount")[0];
    assert_eq!(
        reference(at(running, &["Threshold"])),
        Some("MediaBridgeMinTasks")
    );
    assert_eq!(
        at(running, &["ComparisonOperator"]).as_str(),
        Some("LessThanThreshold")
    );
    assert_eq!(resources(&t, "AWS::CloudWatch::Dashboard").len(), 1);
}

#[test]
fn a_deploy_or_scale_in_waits_for_the_longest_call() {
    let t = template();
    let max_call = at(&t, &["Parameters", "MaxCallSecs"]);
    let default = number(at(max_call, &["Default"]));
    let allowed: Vec<u64> = at(max_call, &["AllowedValues"])
        .as_sequence()
        .expect("MaxCallSecs has allowed values")
        .iter()
        .map(number)
        .collect();
    assert!(allowed.contains(&default));

    // The load balancer keeps a leaving task's calls at least as long as
    // the longest call (ECS sends SIGTERM only after that), within ELB's 3600 s.
    let attributes = at(
        resource(&t, "MediaTargetGroup"),
        &["Properties", "TargetGroupAttributes"],
    )
    .as_sequence()
    .expect("target group attributes");
    let delay = attributes
        .iter()
        .find(|a| at(a, &["Key"]).as_str() == Some("deregistration_delay.timeout_seconds"))
        .map(|a| at(a, &["Value"]))
        .expect("a deregistration delay");
    let (tag, args) = intrinsic(delay).expect("the delay follows MaxCallSecs");
    assert_eq!(tag, "FindInMap");
    let args = args.as_sequence().expect("FindInMap arguments");
    assert_eq!(reference(&args[1]), Some("MaxCallSecs"));
    let map = at(&t, &["Mappings", args[0].as_str().expect("a map name")]);
    for secs in allowed {
        let drain = number(at(
            map,
            &[&secs.to_string(), args[2].as_str().expect("a key")],
        ));
        assert!(
            (secs..=3600).contains(&drain),
            "MaxCallSecs {secs}: drain {drain}"
        );
    }

    // The bridge ends calls at MaxCallSecs, and SIGTERM's drain fits
    // Fargate's stop timeout (at most 120 s).
    assert_eq!(
        reference(container_env(&t, "MAX_CALL_SECS")),
        Some("MaxCallSecs")
    );
    // And the functions refuse campaigns whose calls would outlast it.
    let functions = &["Globals", "Function", "Environment", "Variables"];
    assert_eq!(
        reference(at(at(&t, functions), &["VOXDIAL_MAX_CALL_SECS"])),
        Some("MaxCallSecs")
    );
    let container = &at(
        resource(&t, "MediaTaskDefinition"),
        &["Properties", "ContainerDefinitions"],
    )[0];
    let stop = number(at(container, &["StopTimeout"]));
    assert!(stop <= 120, "Fargate's stop timeout is at most 120 s");
    assert!(number(container_env(&t, "DRAIN_SECS")) < stop);

    // New tasks start before old ones drain.
    let deployment = at(
        resource(&t, "MediaService"),
        &["Properties", "DeploymentConfiguration"],
    );
    assert_eq!(number(at(deployment, &["MinimumHealthyPercent"])), 100);
    assert_eq!(number(at(deployment, &["MaximumPercent"])), 200);

    // A task with live calls may protect itself from scale-in.
    let protection = statements(resource(&t, "MediaTaskRole"))
        .into_iter()
        .flat_map(|s| strings(at(s, &["Action"])))
        .any(|a| a == "ecs:UpdateTaskProtection");
    assert!(
        protection,
        "the task role cannot set task scale-in protection"
    );
}

#[test]
fn the_bridge_scales_on_live_calls_and_cpu_across_two_zones() {
    let t = template();
    let min = at(&t, &["Parameters", "MediaBridgeMinTasks"]);
    assert!(number(at(min, &["MinValue"])) >= 2);
    let service = at(resource(&t, "MediaService"), &["Properties"]);
    assert_eq!(
        reference(at(service, &["DesiredCount"])),
        Some("MediaBridgeMinTasks")
    );
    let subnets = at(
        service,
        &["NetworkConfiguration", "AwsvpcConfiguration", "Subnets"],
    )
    .as_sequence()
    .expect("subnets");
    let zones: std::collections::BTreeSet<String> = subnets
        .iter()
        .map(|s| {
            let subnet = resource(&t, reference(s).expect("a subnet of the template"));
            format!("{:?}", at(subnet, &["Properties", "AvailabilityZone"]))
        })
        .collect();
    assert!(zones.len() >= 2, "the tasks' subnets are in one zone");

    let targets = resources(&t, "AWS::ApplicationAutoScaling::ScalableTarget");
    assert_eq!(targets.len(), 1);
    let target = at(targets[0].1, &["Properties"]);
    assert_eq!(
        reference(at(target, &["MinCapacity"])),
        Some("MediaBridgeMinTasks")
    );
    let policies: Vec<&Value> = resources(&t, "AWS::ApplicationAutoScaling::ScalingPolicy")
        .into_iter()
        .map(|(_, p)| at(p, &["Properties"]))
        .filter(|p| reference(at(p, &["ScalingTargetId"])) == Some(targets[0].0))
        .collect();
    let tracking = |path: &[&str], expected: &str| {
        policies.iter().any(|p| {
            at(p, &["PolicyType"]).as_str() == Some("TargetTrackingScaling")
                && at(at(p, &["TargetTrackingScalingPolicyConfiguration"]), path).as_str()
                    == Some(expected)
        })
    };
    assert!(tracking(
        &["PredefinedMetricSpecification", "PredefinedMetricType"],
        "ECSServiceAverageCPUUtilization"
    ));
    assert!(tracking(
        &["CustomizedMetricSpecification", "MetricName"],
        "LiveCalls"
    ));
    assert!(tracking(
        &["CustomizedMetricSpecification", "Namespace"],
        "voxdial/MediaBridge"
    ));
    // The bridge publishes the metric and enforces its capacity.
    assert!(text(container_env(&t, "EMF_SERVICE_NAME")).is_some());
    assert_eq!(
        reference(container_env(&t, "MAX_LIVE_CALLS")),
        Some("MediaBridgeMaxLiveCalls")
    );
}

#[test]
fn an_ecr_repository_holds_the_bridge_image() {
    let t = template();
    let repositories = resources(&t, "AWS::ECR::Repository");
    assert_eq!(repositories.len(), 1);
    let (id, repository) = repositories[0];
    assert!(
        at(repository, &["Condition"]).is_null(),
        "created before any image exists"
    );
    let output = at(&t, &["Outputs", "MediaBridgeRepositoryUri", "Value"]);
    assert_eq!(
        intrinsic(output).map(|(tag, v)| (tag, v.as_str().map(str::to_string))),
        Some(("GetAtt".to_string(), Some(format!("{id}.RepositoryUri"))))
    );
}

/// The secrets (parameter names) a statement's `Resource` grants: each
/// `…:secret:${Name}-??????` (the name and Secrets Manager's random
/// suffix, nothing wider).
fn granted_secrets(id: &str, statement: &Value) -> Vec<String> {
    let resource = at(statement, &["Resource"]);
    let items: Vec<&Value> = match resource {
        Value::Sequence(items) => items.iter().collect(),
        one => vec![one],
    };
    items
        .into_iter()
        .map(|item| {
            let arn = text(item).unwrap_or_else(|| panic!("{id}: a secret ARN, not {item:?}"));
            let name = arn
                .split_once(":secret:${")
                .and_then(|(_, rest)| rest.strip_suffix("}-??????"))
                .unwrap_or_else(|| panic!("{id} reads {arn}: not one named secret"));
            name.to_string()
        })
        .collect()
}

/// The secret parameters of a `VOXDIAL_SECRET_IDS` value (`!Ref X` or
/// `!Sub "${X},${Y}"`).
fn listed_secrets(value: &Value) -> Vec<String> {
    if let Some(name) = reference(value) {
        return vec![name.to_string()];
    }
    text(value)
        .unwrap_or_default()
        .split(',')
        .filter_map(|part| part.strip_prefix("${")?.strip_suffix('}'))
        .map(str::to_string)
        .collect()
}

/// What each function and role may read: the providers' credentials
/// everywhere, the models' keys only where a model is called, voxdial's
/// own keys only where tokens, sessions or suppression digests are made.
const SECRETS_BY_ROLE: [(&str, &[&str]); 9] = [
    ("StatusCallbackFunction", &["ProvidersSecretName"]),
    ("AnswerFunction", &["ProvidersSecretName", "KeysSecretName"]),
    ("ApiFunction", &["ProvidersSecretName", "KeysSecretName"]),
    (
        "DispatcherFunction",
        &["ProvidersSecretName", "KeysSecretName"],
    ),
    ("SweeperFunction", &["ProvidersSecretName"]),
    ("RecordingFunction", &["ProvidersSecretName"]),
    (
        "TranscriberFunction",
        &["ProvidersSecretName", "ModelsSecretName"],
    ),
    // The container fetches these itself (VOXDIAL_SECRET_IDS) ...
    ("MediaTaskRole", &["ProvidersSecretName", "KeysSecretName"]),
    // ... and ECS puts these in its environment (TWILIO_AUTH_TOKEN, GEMINI_API_KEY).
    (
        "MediaExecutionRole",
        &["ProvidersSecretName", "ModelsSecretName"],
    ),
];

#[test]
fn each_role_reads_only_the_secrets_its_function_uses() {
    let t = template();
    let mut seen = Vec::new();
    for kind in ["AWS::Serverless::Function", "AWS::IAM::Role"] {
        for (id, r) in resources(&t, kind) {
            let mut granted = Vec::new();
            for statement in statements(r) {
                let actions = strings(at(statement, &["Action"]));
                if !actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                    continue;
                }
                assert_eq!(actions, ["secretsmanager:GetSecretValue"], "{id}");
                granted.extend(granted_secrets(id, statement));
            }
            if granted.is_empty() {
                continue;
            }
            let expected = SECRETS_BY_ROLE
                .iter()
                .find(|(role, _)| *role == id)
                .unwrap_or_else(|| panic!("{id} reads secrets it has no need of: {granted:?}"))
                .1;
            assert_eq!(granted, expected, "{id}");
            seen.push(id);
        }
    }
    seen.sort_unstable();
    let mut all: Vec<&str> = SECRETS_BY_ROLE.iter().map(|(id, _)| *id).collect();
    all.sort_unstable();
    assert_eq!(seen, all, "every function and the bridge's two roles");
}

#[test]
fn each_function_reads_exactly_the_secrets_its_role_grants() {
    let t = template();
    assert!(
        at(
            &t,
            &[
                "Globals",
                "Function",
                "Environment",
                "Variables",
                "VOXDIAL_SECRET_IDS"
            ]
        )
        .is_null(),
        "no secret for every function"
    );
    for (id, expected) in SECRETS_BY_ROLE
        .iter()
        .filter(|(id, _)| id.ends_with("Function"))
    {
        let ids = at(
            resource(&t, id),
            &[
                "Properties",
                "Environment",
                "Variables",
                "VOXDIAL_SECRET_IDS",
            ],
        );
        assert_eq!(listed_secrets(ids), *expected, "{id}");
    }
    let container = &at(
        resource(&t, "MediaTaskDefinition"),
        &["Properties", "ContainerDefinitions"],
    )[0];
    let env = at(container, &["Environment"]).as_sequence().expect("env");
    let ids = env
        .iter()
        .find(|v| at(v, &["Name"]).as_str() == Some("VOXDIAL_SECRET_IDS"))
        .expect("the container's VOXDIAL_SECRET_IDS");
    assert_eq!(
        listed_secrets(at(ids, &["Value"])),
        ["ProvidersSecretName", "KeysSecretName"]
    );
    // ECS's secrets come from the execution role's: the Twilio token from
    // the providers' secret, the Gemini key from the models'.
    let injected: Vec<String> = at(container, &["Secrets"])
        .as_sequence()
        .expect("secrets")
        .iter()
        .map(|v| {
            let from = text(at(v, &["ValueFrom"])).expect("a ValueFrom");
            let (_, rest) = from.split_once(":secret:${").expect("a named secret");
            rest.split_once('}').expect("a parameter").0.to_string()
        })
        .collect();
    assert_eq!(injected, ["ProvidersSecretName", "ModelsSecretName"]);
}

#[test]
fn no_function_reserves_concurrency() {
    let t = template();
    assert!(at(&t, &["Globals", "Function", "ReservedConcurrentExecutions"]).is_null());
    for (id, f) in resources(&t, "AWS::Serverless::Function") {
        assert!(
            at(f, &["Properties", "ReservedConcurrentExecutions"]).is_null(),
            "{id} reserves concurrency: it fails in accounts with the 10-execution quota"
        );
    }
}

#[test]
fn metrics_stay_inside_the_vpc() {
    let t = template();
    let rule = at(resource(&t, "MediaMetricsBlocked"), &["Properties"]);
    let paths = strings(at(&rule["Conditions"][0], &["PathPatternConfig", "Values"]));
    assert!(paths.iter().any(|p| p == "/metrics"), "{paths:?}");
    let action = &rule["Actions"][0];
    assert_eq!(at(action, &["Type"]).as_str(), Some("fixed-response"));
    assert_eq!(
        at(action, &["FixedResponseConfig", "StatusCode"]).as_str(),
        Some("404")
    );
    let target_port = number(at(
        resource(&t, "MediaTargetGroup"),
        &["Properties", "Port"],
    ));
    let metrics = text(container_env(&t, "METRICS_ADDR")).expect("METRICS_ADDR");
    let metrics_port: u64 = metrics.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(
        metrics_port, target_port,
        "metrics on the load balancer's port"
    );
    let ingress = at(
        resource(&t, "MediaTaskSecurityGroup"),
        &["Properties", "SecurityGroupIngress"],
    )
    .as_sequence()
    .expect("ingress rules");
    let vpc = at(resource(&t, "MediaVpc"), &["Properties", "CidrBlock"]);
    for rule in ingress {
        if number(at(rule, &["FromPort"])) == metrics_port {
            assert_eq!(at(rule, &["CidrIp"]), vpc, "metrics open beyond the VPC");
        }
    }
}

#[test]
fn retained_data_has_generated_names_so_the_stack_can_be_re_created() {
    let t = template();
    for (id, name) in [("Table", "TableName"), ("RecordingsBucket", "BucketName")] {
        let r = resource(&t, id);
        assert_eq!(at(r, &["DeletionPolicy"]).as_str(), Some("Retain"));
        assert!(
            at(r, &["Properties", name]).is_null(),
            "{id} is retained under a fixed {name}: re-creating the stack would fail"
        );
    }
}

#[test]
fn each_provider_account_has_its_caller_id() {
    let t = template();
    for parameter in ["TwilioCallerId", "SansPbxCallerId"] {
        assert!(!at(&t, &["Parameters", parameter]).is_null(), "{parameter}");
    }
    let env = at(&t, &["Globals", "Function", "Environment", "Variables"]);
    assert_eq!(
        reference(at(env, &["VOXDIAL_CALLER_ID"])),
        Some("TwilioCallerId")
    );
    let per_provider = format!("{:?}", at(env, &["VOXDIAL_CALLER_IDS"]));
    assert!(
        per_provider.contains("sanspbx=${SansPbxCallerId}"),
        "{per_provider}"
    );
}

/// The API function (on-demand recordings) and the bridge (a warm
/// transfer's agent leg) give the provider absolute callback URLs: both
/// get the public base URL the dispatcher gets, never an empty one.
#[test]
fn the_api_and_the_bridge_know_the_public_base_url() {
    let t = template();
    let dispatcher = at(
        resource(&t, "DispatcherFunction"),
        &[
            "Properties",
            "Environment",
            "Variables",
            "VOXDIAL_PUBLIC_BASE_URL",
        ],
    );
    assert!(
        format!("{dispatcher:?}").contains("execute-api"),
        "{dispatcher:?}"
    );
    let api = at(
        resource(&t, "ApiFunction"),
        &[
            "Properties",
            "Environment",
            "Variables",
            "VOXDIAL_PUBLIC_BASE_URL",
        ],
    );
    assert_eq!(api, dispatcher);
    assert_eq!(container_env(&t, "VOXDIAL_PUBLIC_BASE_URL"), dispatcher);
}

#[test]
fn the_api_function_serves_the_console_page_and_assets() {
    let t = template();
    let events = at(resource(&t, "ApiFunction"), &["Properties", "Events"]);
    let routes: Vec<(String, String)> = events
        .as_mapping()
        .expect("the API function's events")
        .values()
        .filter(|e| text(&e["Type"]) == Some("HttpApi"))
        .map(|e| {
            let p = &e["Properties"];
            let field = |name: &str| text(&p[name]).unwrap_or_default().to_string();
            (field("Method"), field("Path"))
        })
        .collect();
    for path in ["/", "/index.html", "/assets/{proxy+}", "/v1/{proxy+}"] {
        assert!(
            routes
                .iter()
                .any(|(m, p)| p == path && (m == "GET" || m == "ANY")),
            "{path} is not routed to the API function: {routes:?}"
        );
    }
}

/// The S3 object actions a function's statements grant on `prefix*` of the
/// recordings bucket.
fn bucket_actions(r: &Value, prefix: &str) -> Vec<String> {
    let on_prefix = |resource: &Value| {
        let resources = match resource {
            Value::Sequence(items) => items.iter().filter_map(text).collect(),
            other => text(other).into_iter().collect::<Vec<_>>(),
        };
        resources
            .iter()
            .any(|r| *r == format!("${{RecordingsBucket.Arn}}/{prefix}*"))
    };
    statements(r)
        .into_iter()
        .filter(|s| on_prefix(at(s, &["Resource"])))
        .flat_map(|s| strings(at(s, &["Action"])))
        .collect()
}

#[test]
fn lead_files_are_uploaded_by_presigned_put_and_read_by_the_job() {
    let t = template();
    let bucket = resource(&t, "RecordingsBucket");
    let rules = at(bucket, &["Properties", "CorsConfiguration", "CorsRules"])
        .as_sequence()
        .expect("a CORS rule for browser uploads");
    assert!(
        rules
            .iter()
            .any(|r| strings(at(r, &["AllowedMethods"])) == ["PUT"])
    );
    let lifecycle = at(bucket, &["Properties", "LifecycleConfiguration", "Rules"])
        .as_sequence()
        .expect("lifecycle rules");
    assert!(
        lifecycle
            .iter()
            .any(|r| at(r, &["Prefix"]).as_str() == Some("imports/")),
        "uploaded files expire"
    );
    // The API signs upload URLs (its role must be allowed the write) and
    // checks that a file arrived; it never reads call files' prefixes for it.
    let api = bucket_actions(resource(&t, "ApiFunction"), "imports/");
    assert_eq!(api, ["s3:PutObject", "s3:GetObject"]);
    // The job's function reads them, and stores leads in batches.
    let job = resource(&t, "TranscriberFunction");
    assert_eq!(bucket_actions(job, "imports/"), ["s3:GetObject"]);
    let store: Vec<String> = statements(job)
        .into_iter()
        .flat_map(|s| strings(at(s, &["Action"])))
        .collect();
    assert!(store.contains(&"dynamodb:BatchWriteItem".to_string()));
}

#[test]
fn recorded_calls_spool_to_a_writable_task_volume() {
    // The root filesystem is read-only: the bridge spools recordings to
    // task storage mounted where RECORDING_DIR points, writable.
    let t = template();
    let task = resource(&t, "MediaTaskDefinition");
    let container = &at(task, &["Properties", "ContainerDefinitions"])[0];
    assert_eq!(
        at(container, &["ReadonlyRootFilesystem"]).as_bool(),
        Some(true)
    );
    let dir = text(container_env(&t, "RECORDING_DIR")).expect("a spool directory");
    let mount = at(container, &["MountPoints"])
        .as_sequence()
        .expect("mount points")
        .iter()
        .find(|m| at(m, &["ContainerPath"]).as_str() == Some(dir))
        .unwrap_or_else(|| panic!("nothing is mounted at {dir}"));
    assert_ne!(at(mount, &["ReadOnly"]).as_bool(), Some(true));
    let volume = at(mount, &["SourceVolume"]).as_str().expect("a volume");
    let volumes = at(task, &["Properties", "Volumes"])
        .as_sequence()
        .expect("task volumes");
    assert!(
        volumes
            .iter()
            .any(|v| at(v, &["Name"]).as_str() == Some(volume)),
        "{volume} is not a task volume"
    );
    // And the image makes the same directory its own, for the bind mount.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../infra/media-bridge.Dockerfile"
    );
    let dockerfile = std::fs::read_to_string(path).expect("the bridge's Dockerfile");
    assert!(dockerfile.contains(&format!("VOLUME [\"{dir}\"]")));
    assert!(dockerfile.contains(&format!("RECORDING_DIR={dir}")));
}
