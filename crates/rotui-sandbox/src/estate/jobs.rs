//! CronJobs, run on demand: [`Estate::run_cronjob`] does what the CronJob
//! controller does at a schedule (a Job from the jobTemplate, owned by the
//! CronJob, and the Job's pod), and [`Estate::finish_job`] what the Job's
//! container exiting 0 does. In between, the pod holds the connections it
//! opened with the credentials it resolved when it started, as a long
//! task would — the running Job still on the old credentials that a
//! rotation must list.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use rand::Rng;
use serde_json::{Value, json};

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::Estate;
use crate::controllers::now_rfc3339;

const JOB_NAME_LABEL: &str = "job-name";

impl Estate {
    /// Start a run of the CronJob `cronjob` in `env` now; returns the Job's name.
    pub async fn run_cronjob(&self, env: &str, cronjob: &str) -> Result<String> {
        let client = self.client(env).clone();
        let ns = &self.spec.namespace;
        let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), ns);
        let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
        let pods: Api<Pod> = Api::namespaced(client, ns);
        let cj = cronjobs
            .get(cronjob)
            .await
            .wrap_err_with(|| format!("{env}: CronJob {cronjob}"))?;
        let template = serde_json::to_value(
            cj.spec
                .as_ref()
                .ok_or_else(|| eyre!("CronJob {cronjob} has no spec"))?
                .job_template
                .clone(),
        )?;
        let now = now_rfc3339();
        // As the CronJob controller names them: the scheduled minute.
        let minute = chrono::Utc::now().timestamp() / 60;
        let owner = json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob,
            "uid": cj.uid().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true,
        });
        let mut labels = template["spec"]["template"]["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        let mut job = None;
        for attempt in 0..5 {
            let name = match attempt {
                0 => format!("{cronjob}-{minute}"),
                n => format!("{cronjob}-{minute}-{n}"),
            };
            let mut job_labels = labels.clone();
            job_labels[JOB_NAME_LABEL] = json!(name);
            let body: Job = serde_json::from_value(json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {
                    "name": name, "namespace": ns, "labels": job_labels,
                    "annotations": { "cronjob.kubernetes.io/instantiate": "manual" },
                    "ownerReferences": [owner],
                },
                "spec": template["spec"],
                "status": { "active": 1, "startTime": now },
            }))?;
            match jobs.create(&PostParams::default(), &body).await {
                Ok(j) => {
                    job = Some(j);
                    break;
                }
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let job = job.ok_or_else(|| eyre!("no free Job name for {cronjob}"))?;
        let job_name = job.name_any();
        let suffix: String = {
            let mut rng = rand::rng();
            (0..5)
                .map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[rng.random_range(0..27)]))
                .collect()
        };
        let mut pod_labels = labels;
        pod_labels[JOB_NAME_LABEL] = json!(job_name);
        pod_labels["batch.kubernetes.io/job-name"] = json!(job_name);
        pod_labels["controller-uid"] = json!(job.uid().unwrap_or_default());
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": format!("{job_name}-{suffix}"), "namespace": ns, "labels": pod_labels,
                "ownerReferences": [{
                    "apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                    "uid": job.uid().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": template["spec"]["template"]["spec"],
        }))?;
        pods.create(&PostParams::default(), &pod).await?;
        let active = json!({
            "apiVersion": "batch/v1", "kind": "Job", "name": job_name, "namespace": ns,
            "uid": job.uid().unwrap_or_default(),
        });
        let mut all_active: Vec<Value> = cj
            .status
            .as_ref()
            .and_then(|s| s.active.as_ref())
            .map(|a| a.iter().filter_map(|r| serde_json::to_value(r).ok()).collect())
            .unwrap_or_default();
        all_active.push(active);
        cronjobs
            .patch_status(
                cronjob,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": { "lastScheduleTime": now, "active": all_active } })),
            )
            .await?;
        Ok(job_name)
    }

    /// End the Job `job` of `env` successfully: its pods close their
    /// connections and report Succeeded, the Job Complete, and its CronJob
    /// forgets it as active.
    pub async fn finish_job(&self, env: &str, job: &str) -> Result<()> {
        let client = self.client(env).clone();
        let ns = &self.spec.namespace;
        let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let j = jobs
            .get(job)
            .await
            .wrap_err_with(|| format!("{env}: Job {job}"))?;
        let listed = pods
            .list(&ListParams::default().labels(&format!("{JOB_NAME_LABEL}={job}")))
            .await?;
        for p in &listed {
            self.pods(env)
                .complete(ns, &p.name_any())
                .await
                .map_err(|e| eyre!(e))?;
        }
        let now = now_rfc3339();
        jobs.patch_status(
            job,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": {
                "active": 0, "succeeded": listed.items.len().max(1), "ready": 0, "completionTime": now,
                "conditions": [
                    { "type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now },
                    { "type": "Complete", "status": "True", "lastTransitionTime": now },
                ],
            }})),
        )
        .await?;
        let owner = j
            .owner_references()
            .iter()
            .find(|o| o.kind == "CronJob")
            .map(|o| o.name.clone());
        if let Some(cronjob) = owner {
            let cronjobs: Api<CronJob> = Api::namespaced(client, ns);
            let cj = cronjobs.get(&cronjob).await?;
            let still: Vec<Value> = cj
                .status
                .as_ref()
                .and_then(|s| s.active.as_ref())
                .map(|a| {
                    a.iter()
                        .filter(|r| r.name.as_deref() != Some(job))
                        .filter_map(|r| serde_json::to_value(r).ok())
                        .collect()
                })
                .unwrap_or_default();
            cronjobs
                .patch_status(
                    &cronjob,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({ "status": { "lastSuccessfulTime": now, "active": still } })),
                )
                .await?;
        }
        Ok(())
    }
}
