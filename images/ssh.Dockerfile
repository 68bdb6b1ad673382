# What an Ubuntu cloud image gives Ansible over the network: sshd and a
# "ubuntu" user with key login and passwordless sudo. The public key is
# mounted at /home/ubuntu/.ssh/authorized_keys when the container starts.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --shell /bin/bash --groups sudo ubuntu \
 && echo 'ubuntu ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users \
 && chmod 0440 /etc/sudoers.d/90-cloud-init-users \
 && install -d -m 0700 -o ubuntu -g ubuntu /home/ubuntu/.ssh
